// The training loop: restore-or-initialize from the checkpoint directory, then epochs of
// shuffled batches (forward, backward, RMSProp), evaluation and a save at each epoch end, and
// saves every N steps / S seconds and on a stop request. Everything random is a pure function of
// (seed, step), so a run resumed from any checkpoint continues bit for bit as if never stopped.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "data_loader/mnist.hpp"
#include "src/checkpoint.hpp"
#include "src/config.hpp"

namespace mnist {

// A failed save is retried at the next save point; this many failures in a row end the run.
constexpr int kMaxFailedSavesInARow = 3;

struct TrainOutcome {
    int64_t global_step = 0;
    int64_t epochs_done = 0;
    int stopped_by_signal = 0;  // the signal number if a stop was requested, else 0
    std::string last_checkpoint;
};

// The state a new run starts from: weights from N(0, 0.01^2) drawn from the seed, RMSProp slots at
// their initial values, global_step 0; then, with config.init_from, the weights named by
// config.init_map (all weight names present in both when empty) and, with init_optimizer, their
// slots take the values of that file's tensors (see transfer.hpp).
// throws CheckpointError (unreadable file, missing names, unknown names, shape mismatches: all listed),
// ConfigError (a malformed init_map).
TrainingState new_run_state(const TrainConfig& config, int input_size, int64_t steps_per_epoch);

// The visible training step: batch -> forward -> backward -> optimizer. Returns the batch's mean loss.
// `indices` are the batch's rows of `train`; ws is sized for at least their number.
double train_step(TrainingState& st, const Dataset& train, const uint32_t* indices, int batch, Workspace& ws,
                  std::vector<uint8_t>& labels);

// How a run reports besides its log lines: the live progress line (off, redrawn in place on a
// terminal, or plain lines at most every plain_interval seconds).
enum class ProgressMode { off, terminal, plain };
struct TrainReporting {
    ProgressMode progress = ProgressMode::off;
    double plain_interval = 5.0;
};

// Runs training as configured. `stop_signal` is polled after every step: when non-zero, the
// trainer saves and returns with stopped_by_signal set. Logs through spdlog; the per-epoch line is
// logged whatever the default logger's level (so a level of warn keeps only it, warnings and errors).
// Appends to ckpt_dir/metrics.jsonl (see metrics.hpp).
// throws ConfigError (settings that cannot resume the checkpoint), CheckpointError (directory
// unusable or locked, kMaxFailedSavesInARow failed saves), IdxError (data).
TrainOutcome train(const TrainConfig& config, const Mnist& data, const std::atomic<int>& stop_signal,
                   FaultPoint fault = FaultPoint::none, const TrainReporting& report = {});

}  // namespace mnist
