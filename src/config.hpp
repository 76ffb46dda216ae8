// The full training configuration: every option of ./train, its validation, and its JSON form
// (stored in each checkpoint so a resumed run can be compared with the run that wrote it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/errors.hpp"

namespace mnist {

struct TrainConfig {
    std::string data_dir = "data/mnist";
    std::string ckpt_dir = "ckpt_dir";
    std::vector<int> hidden = {625, 625};
    double keep_prob_input = 0.8;
    double keep_prob_hidden = 0.5;
    double learning_rate = 0.001;
    double decay = 0.9;
    double momentum = 0.0;
    double epsilon = 1e-10;
    int64_t batch_size = 128;
    int64_t epochs = 50;
    uint64_t seed = 42;
    bool shuffle = true;
    int64_t validation_size = 5000;
    int64_t max_to_keep = 5;
    double keep_checkpoint_every_n_hours = 10000.0;
    int threads = 0;  // 0: all cores
    int64_t save_every_steps = 0;   // 0: only at epoch ends
    double save_every_secs = 0.0;   // 0: off
    // Warm start of a new run (ignored when ckpt_dir already holds a checkpoint of this run):
    std::string init_from;        // a checkpoint or exported file whose tensors initialise weights ("": none)
    std::string init_map;         // "target=source,..." (see transfer.hpp); "": every weight name in both
    bool init_optimizer = false;  // also copy each mapped source's RMSProp slots
    // The data a run trains on, by content (data_fingerprint of data_loader/mnist; set by the trainer,
    // "" in configurations written before it was recorded), and whether a resume on data with another
    // fingerprint was allowed (--allow_other_data; once allowed, recorded for the rest of the run).
    std::string data_fingerprint;
    bool allow_other_data = false;
};

// Every allowed range, stated once in the words of the command-line option (init_map is parsed too).
// throws ConfigError naming the option, the value found and what is allowed.
void validate(const TrainConfig& c);

// JSON text of every field (stable key order), and back. from_json throws ConfigError on a
// missing or mistyped field, naming it; it ignores unknown keys and does not validate() the values.
// The init_* fields may be missing (configurations written before they existed): they default to off.
std::string to_json(const TrainConfig& c);
TrainConfig config_from_json(const std::string& text);

// Settings that a resume cannot change because they fix the shapes or the order of the data
// (hidden, batch_size, validation_size, seed, shuffle). Returns "name: checkpoint has X, requested Y"
// lines, e.g. "hidden: checkpoint has 625,625, requested 800,800".
std::vector<std::string> incompatible_settings(const TrainConfig& saved, const TrainConfig& requested);
// Settings that a resume may change but that make the continued run differ from the original
// (learning rate, dropout, ...), in the same form.
std::vector<std::string> changed_settings(const TrainConfig& saved, const TrainConfig& requested);

}  // namespace mnist
