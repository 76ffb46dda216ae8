// Restore-or-initialize: where a run starts. The checkpoint directory is locked for this process;
// its newest valid checkpoint is continued under the requested configuration (refusing settings that
// would change shapes or the data order), or, when it holds none, a new run starts from the seed,
// its weights optionally taken from another file (--init_from, a warm start).
#pragma once
#include <cstdint>
#include <string>

#include "data_loader/mnist.hpp"
#include "src/checkpoint/checkpoint_dir.hpp"

namespace mnist {

// The sizes a configuration gives on a data set.
struct RunShape {
    int input_size = 0;
    int64_t steps_per_epoch = 0;  // training images / batch size, the remainder dropped
    int64_t total_steps = 0;      // epochs * steps_per_epoch
    std::string data_fingerprint;  // the data's (data_fingerprint), recorded in every checkpoint's config
    std::string data_files;        // the files it came from, for messages
};
// throws ConfigError when the batch is larger than the training set, or when the network cannot fit
// in the memory available (check_memory), before anything of its size is allocated.
RunShape run_shape(const TrainConfig& c, const Mnist& data);

// Bytes a run with these layer sizes holds at once, about: weights, two RMSProp slots, gradients and
// a background save's copy of the three (7 floats per weight), and a batch's activations and their
// gradients. A double: a width list can ask for more than 2^64 bytes.
double training_bytes(const std::vector<int>& sizes, int64_t batch_size);
// throws ConfigError naming --hidden, the bytes needed and the bytes available when they do not fit
// (available == 0: unknown, nothing refused).
void check_memory(const TrainConfig& c, int input_size, uint64_t available);

// A new run's state (initial_state), then, with c.init_from, the weights named by c.init_map (all
// weight names present in both when empty) and, with init_optimizer, their slots take the values of
// that file's tensors (see transfer.hpp). Logs what was taken from where.
// throws CheckpointError (unreadable file, missing names, unknown names, shape mismatches: all listed),
// ConfigError (a malformed init_map).
TrainingState new_run_state(const TrainConfig& c, int input_size, int64_t steps_per_epoch);

// Compares the data fingerprint recorded in `saved` (the config of `file`) with the data's (shape).
// throws ConfigError naming both fingerprints, the checkpoint and the data files when they differ,
// unless c.allow_other_data (then a warning). A config without a fingerprint (older files) passes.
void check_same_data(const TrainConfig& saved, const std::string& file, const TrainConfig& c, const RunShape& shape);

// `saved` (read from `file`) continued under c: the settings that fix shapes or the data order
// must be the same (throws ConfigError naming each difference); changes to the math are logged as
// warnings; how the run started (init_*) stays as recorded; an epoch's partial loss restarts at 0
// on an epoch boundary.
TrainingState resumed_state(TrainingState saved, const std::string& file, const TrainConfig& c, const RunShape& shape);

struct Start {
    Saver saver;                // the run's checkpoint directory
    DirectoryLock lock;         // held until the run ends
    TrainingState state;        // restored, or a new run's
    std::string restored_file;  // the checkpoint restored; empty for a new run
};

// Locks c.ckpt_dir (creating it), restores its newest valid checkpoint (Saver::restore_latest, whose
// warnings are logged) and continues it, or starts a new run. A new run's state is built before the
// directory is touched, so a bad --init_from writes nothing.
// throws CheckpointError (directory unusable or locked, a bad --init_from), ConfigError (settings
// that cannot resume the checkpoint).
Start restore_or_initialize(const TrainConfig& c, const RunShape& shape, FaultPoint fault);

}  // namespace mnist
