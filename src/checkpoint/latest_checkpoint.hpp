// "The latest checkpoint" of a directory: one rule, in one function, for every program that reads
// one (./train's restore, ./eval, ./ckpt, ./predict, the dashboard).
//
// The rule: the latest checkpoint is the valid model-<step>.safetensors file of highest step in the
// directory itself. The `checkpoint` state file is read and checked against it: when it names
// anything else (a path outside the directory, a file that is missing or damaged, an older step than
// a valid newer file, or it cannot be parsed) a warning says so and which file was chosen instead.
//
// Readers never lose a race with a trainer saving into the directory: each candidate is opened
// once and read from that descriptor (a file deleted by retention after the open stays readable);
// a file that disappeared between listing and opening, or a state file that names another local
// checkpoint (the trainer writes the state file just after the checkpoint), makes the reader look
// again, a bounded number of times, before it settles on what it found. A state file naming a
// newer step than the one chosen is a save that landed after the listing: no warning.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "src/checkpoint/checkpoint_file.hpp"

namespace mnist {

struct LatestCheckpoint {
    std::string file;     // "model-<step>.safetensors"
    std::string path;     // dir/file
    TrainingState state;  // read and verified (checksums, structure, step against the name)
};

struct LatestSearch {
    std::optional<LatestCheckpoint> latest;  // nullopt: no valid checkpoint in the directory
    std::vector<std::string> warnings;       // damaged files skipped, a state file naming something else
    std::vector<std::string> damaged;        // file names found invalid (all newer than the one chosen)
};

// Looks `rounds` times at most (a trainer may be saving; the lock holder itself passes 1).
// throws CheckpointError when dir does not exist or is not a directory.
LatestSearch find_latest_checkpoint(const std::string& dir, int rounds = 20);

// find_latest_checkpoint's latest; the warnings go to `warnings`.
// throws CheckpointError when dir does not exist or holds no valid checkpoint (naming the damaged ones).
LatestCheckpoint read_latest_checkpoint(const std::string& dir, std::vector<std::string>& warnings);

// The path of the latest checkpoint (the rule above; warnings dropped). For callers that only name
// the file: opening it again by name can race a trainer's retention; prefer read_latest_checkpoint.
// throws CheckpointError as read_latest_checkpoint.
std::string latest_checkpoint(const std::string& dir);

// Lists model-<step>.safetensors files in dir, by step ascending: (step, file name).
std::vector<std::pair<int64_t, std::string>> list_checkpoint_files(const std::string& dir);

// Test seam: called with each candidate's path just before it is opened (a test deletes or replaces
// files there to play the trainer's part in a race). Empty: none.
void set_latest_checkpoint_hook(std::function<void(const std::string& path)> hook);

}  // namespace mnist
