// Restore-or-initialize (see start.hpp).
#include "src/train/start.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>

#include "src/checkpoint/transfer.hpp"
#include "src/text.hpp"

namespace mnist {

namespace {

// MemAvailable of /proc/meminfo in bytes; 0 when unknown (then nothing is refused).
uint64_t memory_available() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    uint64_t kb = 0;
    std::string unit;
    while (in >> key >> kb >> unit)
        if (key == "MemAvailable:") return kb * 1024;
    return 0;
}

std::string gigabytes(double bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f GB", bytes / 1e9);
    return buf;
}

}  // namespace

double training_bytes(const std::vector<int>& sizes, int64_t batch_size) {
    double params = 0, units = 0;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) params += double(sizes[l]) * sizes[l + 1];
    for (int w : sizes) units += w;
    return 4.0 * (7 * params + 4 * units * double(batch_size));
}

void check_memory(const TrainConfig& c, int input_size, uint64_t available) {
    std::vector<int> sizes = {input_size};
    sizes.insert(sizes.end(), c.hidden.begin(), c.hidden.end());
    sizes.push_back(10);
    const double need = training_bytes(sizes, c.batch_size);
    if (available == 0 || need <= double(available)) return;
    throw ConfigError("--hidden " + widths_text(c.hidden) + ": a " + widths_text(sizes, "-") + " network needs about " +
                      std::to_string(uint64_t(need)) + " bytes (" + gigabytes(need) +
                      ": weights, two RMSProp slots, gradients and a save's copy, 28 bytes per weight, and a "
                      "batch's activations), but only " + std::to_string(available) + " bytes (" +
                      gigabytes(double(available)) + ") of memory are available (MemAvailable in /proc/meminfo)");
}

RunShape run_shape(const TrainConfig& c, const Mnist& data) {
    RunShape s;
    s.input_size = int(data.train.image_size());
    check_memory(c, s.input_size, memory_available());
    s.steps_per_epoch = int64_t(data.train.size()) / c.batch_size;
    if (s.steps_per_epoch == 0)
        throw ConfigError("--batch_size " + std::to_string(c.batch_size) + " is larger than the training set (" +
                          std::to_string(data.train.size()) + " images after the validation split)");
    s.total_steps = c.epochs * s.steps_per_epoch;
    s.data_fingerprint = data.fingerprint;
    s.data_files = data.files.train_images.empty()
                       ? "'" + c.data_dir + "'"
                       : "'" + data.files.train_images + "', '" + data.files.train_labels + "', '" +
                             data.files.test_images + "', '" + data.files.test_labels + "'";
    return s;
}

TrainingState new_run_state(const TrainConfig& c, int input_size, int64_t steps_per_epoch) {
    TrainingState st = initial_state(c, input_size, steps_per_epoch);
    if (c.init_from.empty()) return st;
    const TensorFile from = read_transfer_source(c.init_from);
    const VarMap map = c.init_map.empty() ? common_weights(st.net, from) : parse_var_map(c.init_map, "init_map");
    if (map.empty())
        throw CheckpointError("cannot initialise the new model from '" + c.init_from + "': it holds none of the new "
                              "model's weight names; choose them with --init_map TARGET=SOURCE,...");
    warm_start(st, from, map, c.init_optimizer, c.init_from);
    std::vector<std::string> pairs, rest;
    for (const VarMapping& m : map) pairs.push_back(m.target + "=" + m.source);
    for (size_t l = 0; l < st.net.layers(); ++l) {
        const std::string name = weight_name(l, st.net.layers());
        if (std::none_of(map.begin(), map.end(), [&](const VarMapping& m) { return m.target == name; }))
            rest.push_back(name);
    }
    spdlog::info("warm start from '{}': {}{}; {} initialised from the seed", c.init_from, join(pairs, ", "),
                 c.init_optimizer ? " with their RMSProp slots" : "", rest.empty() ? "nothing else" : join(rest, ", "));
    return st;
}

void check_same_data(const TrainConfig& saved, const std::string& file, const TrainConfig& c, const RunShape& shape) {
    // A configuration written before fingerprints were recorded has none: nothing to compare.
    if (saved.data_fingerprint.empty() || shape.data_fingerprint.empty() ||
        saved.data_fingerprint == shape.data_fingerprint)
        return;
    const std::string what = "'" + file + "' was trained on data with fingerprint " + saved.data_fingerprint +
                             " (data_dir '" + saved.data_dir + "'), but the data now given, " + shape.data_files +
                             ", has fingerprint " + shape.data_fingerprint;
    if (!c.allow_other_data)
        throw ConfigError("cannot resume: " + what +
                          "; use the original data, another --ckpt_dir for a new run, or --allow_other_data to "
                          "continue on this data (recorded in the checkpoints)");
    spdlog::warn("resuming on other data (--allow_other_data, recorded in the checkpoints): {}", what);
}

TrainingState resumed_state(TrainingState saved, const std::string& file, const TrainConfig& c, const RunShape& shape) {
    std::vector<std::string> bad = incompatible_settings(saved.config, c);
    if (saved.net.sizes.front() != shape.input_size)
        bad.push_back("input size: checkpoint has " + std::to_string(saved.net.sizes.front()) + ", data has " +
                      std::to_string(shape.input_size));
    if (saved.steps_per_epoch != shape.steps_per_epoch)
        bad.push_back("steps per epoch: checkpoint has " + std::to_string(saved.steps_per_epoch) +
                      ", this data and batch size give " + std::to_string(shape.steps_per_epoch));
    if (!bad.empty())
        throw ConfigError("cannot resume from '" + file + "': these settings differ from the run that wrote it:\n  " +
                          join(bad, "\n  ") + "\nuse the original settings, or another --ckpt_dir for a new run");
    for (const std::string& line : changed_settings(saved.config, c))
        spdlog::warn("resuming with a changed setting ({}); the run will differ from one never stopped", line);
    check_same_data(saved.config, file, c, shape);
    // How the run started stays recorded, whatever --init_from the rerun names (it is ignored).
    const TrainConfig started = saved.config;
    saved.config = c;
    saved.config.init_from = started.init_from;
    saved.config.init_map = started.init_map;
    saved.config.init_optimizer = started.init_optimizer;
    saved.config.data_fingerprint = shape.data_fingerprint;
    saved.config.allow_other_data = c.allow_other_data || started.allow_other_data;
    saved.opt.config = rmsprop_config(c);
    if (saved.global_step % shape.steps_per_epoch == 0) saved.epoch_loss_sum = 0;
    return saved;
}

namespace {

void log_start(const Start& s, const TrainConfig& c, const RunShape& shape, double restore_ms) {
    const TrainingState& st = s.state;
    if (!s.restored_file.empty()) {
        spdlog::info("restored {} from '{}' in {:.1f} ms: global_step {}, epoch {}, step {} of {} in the epoch",
                     s.restored_file, c.ckpt_dir, restore_ms, st.global_step, st.epoch() + 1,
                     st.global_step % shape.steps_per_epoch, shape.steps_per_epoch);
        if (!c.init_from.empty())
            spdlog::info("--init_from '{}' ignored: '{}' already holds a checkpoint of this run", c.init_from,
                         c.ckpt_dir);
    } else {
        spdlog::info("new run in '{}': network {}, {} steps per epoch, {} epochs", c.ckpt_dir,
                     widths_text(st.net.sizes, "-"), shape.steps_per_epoch, c.epochs);
    }
    if (st.global_step >= shape.total_steps)
        spdlog::info("'{}' already holds global_step {} = {} epochs; nothing to train (raise --epochs to continue)",
                     c.ckpt_dir, st.global_step, st.global_step / shape.steps_per_epoch);
}

}  // namespace

namespace {

// Whether some checkpoint file of dir reads as valid (nothing is moved or written).
bool holds_valid_checkpoint(const std::string& dir) {
    const auto files = list_checkpoint_files(dir);
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
        try {
            read_checkpoint((std::filesystem::path(dir) / it->second).string());
            return true;
        } catch (const std::exception&) {
        }
    }
    return false;
}

}  // namespace

Start restore_or_initialize(const TrainConfig& c, const RunShape& shape, FaultPoint fault) {
    std::optional<TrainingState> new_run;
    if (list_checkpoint_files(c.ckpt_dir).empty()) {
        new_run = new_run_state(c, shape.input_size, shape.steps_per_epoch);
    } else if (!c.init_from.empty() && !holds_valid_checkpoint(c.ckpt_dir)) {
        // Only damaged files: a bad --init_from fails here, before the restore moves them aside. (With
        // a valid checkpoint, --init_from is ignored, as always.)
        new_run = new_run_state(c, shape.input_size, shape.steps_per_epoch);
    }

    Start s{Saver(c.ckpt_dir, c.max_to_keep, c.keep_checkpoint_every_n_hours, fault), DirectoryLock(c.ckpt_dir), {}, {}};
    const auto restore_start = std::chrono::steady_clock::now();
    RestoreResult restored = s.saver.restore_latest();
    const double restore_ms =
        1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_start).count();
    for (const std::string& w : restored.warnings) spdlog::warn("{}", w);
    if (restored.state) {
        s.state = resumed_state(std::move(*restored.state), restored.file, c, shape);
        s.restored_file = restored.file;
    } else {
        s.state = new_run ? std::move(*new_run) : new_run_state(c, shape.input_size, shape.steps_per_epoch);
        s.state.config.data_fingerprint = shape.data_fingerprint;
    }
    log_start(s, c, shape, restore_ms);
    return s;
}

}  // namespace mnist
