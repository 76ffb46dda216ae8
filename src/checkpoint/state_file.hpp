// The `checkpoint` state file of a checkpoint directory, in TensorFlow's CheckpointState text-proto
// form (so TF's get_checkpoint_state/latest_checkpoint can read our directories), and the retention
// rule that decides which checkpoint files to keep when a new one is written. Pure text and data:
// no file I/O here; the checkpoint module reads, writes and deletes.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/checkpoint/safetensors.hpp"  // CheckpointError

namespace mnist {

struct CheckpointState {
    std::string model_checkpoint_path;                    // newest, relative to the directory
    std::vector<std::string> all_model_checkpoint_paths;  // oldest first, subject to max_to_keep
    std::vector<double> all_model_checkpoint_timestamps;  // unix seconds, parallel to the paths
    double last_preserved_timestamp = 0;                  // 0: never set
    // Kept forever by keep_checkpoint_every_n_hours. Written as comment lines
    // `# preserved: "model-100.safetensors"` so that TensorFlow's parser still reads the file.
    std::vector<std::string> preserved_paths;
};

// The text-proto form: one `field: value` per line; strings double-quoted with `"` and `\` escaped
// (control characters as octal escapes), doubles in the shortest form that reads back exactly.
std::string format_checkpoint_state(const CheckpointState& s);

// Reads what format_checkpoint_state writes, and files written by TensorFlow (blank lines, `#`
// comments, single- or double-quoted strings with C escapes). `what` names the file in messages.
// throws CheckpointError naming the file, the line and the problem: an unknown or repeated field,
// an unterminated or malformed string, a bad number, text after a value, a timestamp count differing
// from the path count (when any timestamps are present), a missing or empty model_checkpoint_path.
CheckpointState parse_checkpoint_state(const std::string& text, const std::string& what);

struct RetentionResult {
    CheckpointState state;
    std::vector<std::string> to_delete;  // oldest first; the caller deletes these files
};

// tf.train.Saver's retention as a pure function, in the form of TF's CheckpointManager._sweep (which
// is what keeps last_preserved_timestamp in the state file; the older Saver counted N hours from its
// own creation with a strict `>`, and kept nothing across restarts). Adds `path` written at `timestamp` as the newest
// (removing an earlier entry with the same path, also from preserved_paths), then, while more than
// max_to_keep (<= 0: keep all) remain, removes the oldest: if keep_every_n_hours*3600 <= its
// timestamp - last_preserved_timestamp it is preserved (moved to preserved_paths,
// last_preserved_timestamp = its timestamp), otherwise it goes to to_delete. keep_every_n_hours <= 0
// preserves nothing.
// An unset last_preserved_timestamp (0) starts at the oldest listed timestamp (or `timestamp` when
// the list is empty), as TF's CheckpointManager starts it at its creation time; without that the
// first checkpoint to age out would always be preserved. Paths without timestamps (a state file
// written by an old TensorFlow) are given last_preserved_timestamp, as TF does.
// throws CheckpointError when the state has timestamps but not one per path.
RetentionResult apply_retention(CheckpointState s, const std::string& path, double timestamp,
                                int64_t max_to_keep, double keep_every_n_hours);

}  // namespace mnist
