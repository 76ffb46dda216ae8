// A checkpoint directory as tf.train.Saver keeps one: `model-<step>.safetensors` files plus the
// `checkpoint` state file, saved so that no checkpoint is ever half-written or lost (each file
// through durable_io, the state file after the checkpoint, and only then old files deleted by the
// retention rules max_to_keep and keep_checkpoint_every_n_hours). On restore every checkpoint is
// verified; a damaged one is moved aside (renamed *.damaged, content untouched) and the newest valid
// one is used.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/checkpoint/checkpoint_file.hpp"
#include "src/checkpoint/durable_io.hpp"
#include "src/checkpoint/latest_checkpoint.hpp"
#include "src/checkpoint/state_file.hpp"

namespace mnist {

struct RestoreResult {
    std::optional<TrainingState> state;  // the newest valid checkpoint, if any
    std::string file;                    // its file name
    std::vector<std::string> warnings;   // damaged files moved aside, a rebuilt state file, ...
};

// One training directory: restore, save, retention. Holds no lock itself (see DirectoryLock).
class Saver {
public:
    // Creates dir if missing. throws CheckpointError when dir is not a directory or not writable.
    Saver(std::string dir, int64_t max_to_keep, double keep_every_n_hours, FaultPoint fault = FaultPoint::none);

    // Finds the latest checkpoint by the one rule of latest_checkpoint.hpp (the newest valid file).
    // Damaged files newer than it are renamed *.damaged; a state file that is missing, damaged or
    // names anything else is rewritten from the files present (a failure to rewrite it is only a
    // warning: the next save writes it); stale temporary files are removed.
    RestoreResult restore_latest();

    // Writes model-<step>.safetensors and the state file, then deletes what retention drops
    // (including files from earlier runs). Returns the file name. throws CheckpointError; after a
    // throw every earlier checkpoint and the state file are as they were, or the state file names
    // the new checkpoint, which is whole (a failure after a rename: of the directory's fsync).
    // A file that retention cannot delete is not a failed save: it stays, and retention_warnings()
    // says so until the next save.
    std::string save(const TrainingState& s, double now);
    // The same for a state already encoded by encode_checkpoint(s, now) (step = s.global_step).
    std::string save_encoded(int64_t step, const std::vector<uint8_t>& bytes, double now);

    const CheckpointState& state() const { return state_; }
    const std::vector<std::string>& retention_warnings() const { return retention_warnings_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    int64_t max_to_keep_;
    double keep_every_n_hours_;
    FaultPoint fault_;
    CheckpointState state_;
    std::vector<std::string> retention_warnings_;
};

// The paths of every checkpoint file in dir, oldest first.
// throws CheckpointError when there is none ("no checkpoint (model-<step>.safetensors) in 'dir'").
std::vector<std::string> checkpoint_paths(const std::string& dir);

}  // namespace mnist
