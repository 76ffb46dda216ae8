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

    // Finds the newest valid checkpoint (by step). Damaged files are renamed *.damaged; a missing
    // or damaged state file is rebuilt from the files present; stale temporary files are removed.
    RestoreResult restore_latest();

    // Writes model-<step>.safetensors and the state file, then deletes what retention drops
    // (including files from earlier runs). Returns the file name. throws CheckpointError; after a
    // throw every earlier checkpoint and the state file are as they were.
    std::string save(const TrainingState& s, double now);
    // The same for a state already encoded by encode_checkpoint(s, now) (step = s.global_step).
    std::string save_encoded(int64_t step, const std::vector<uint8_t>& bytes, double now);

    const CheckpointState& state() const { return state_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    int64_t max_to_keep_;
    double keep_every_n_hours_;
    FaultPoint fault_;
    CheckpointState state_;
};

// The checkpoint a reader should use, without changing anything in dir: the state file's
// model_checkpoint_path when that file exists, else the highest-step model file. Returns its path.
// throws CheckpointError when dir does not exist or holds no checkpoint.
std::string latest_checkpoint(const std::string& dir);

// Lists model-<step>.safetensors files in dir, by step ascending: (step, file name).
std::vector<std::pair<int64_t, std::string>> list_checkpoint_files(const std::string& dir);

// The paths of every checkpoint file in dir, oldest first.
// throws CheckpointError when there is none ("no checkpoint (model-<step>.safetensors) in 'dir'").
std::vector<std::string> checkpoint_paths(const std::string& dir);

}  // namespace mnist
