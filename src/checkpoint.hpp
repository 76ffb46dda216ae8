// Checkpoints: everything needed to continue training exactly (weights, RMSProp slots, global step,
// configuration) in one safetensors file `model-<step>.safetensors`, plus TensorFlow's `checkpoint`
// state file, written so that no checkpoint is ever half-written or lost:
//   temporary file -> fsync -> rename -> fsync(directory), state file the same way, and only then
//   old files deleted by the tf.train.Saver retention rules (max_to_keep, keep_checkpoint_every_n_hours).
// On restore every checksum, offset, dtype and shape is verified; a damaged file is moved aside
// (renamed *.damaged, content untouched) and the newest valid one is used.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/checkpoint_state.hpp"
#include "src/config.hpp"
#include "src/mlp.hpp"
#include "src/rmsprop.hpp"
#include "src/safetensors.hpp"

namespace mnist {

constexpr const char* kCheckpointFormat = "mnist-mlp-checkpoint";
constexpr int kCheckpointFormatVersion = 1;

struct TrainingState {
    TrainConfig config;
    Mlp net;
    RmsProp opt;
    int64_t global_step = 0;       // optimizer steps taken
    int64_t steps_per_epoch = 0;   // fixes where global_step falls in the epoch order
    double epoch_loss_sum = 0;     // sum of the batch losses of the current epoch so far
    double saved_at = 0;           // unix time of the save (0 until saved)
    int64_t epoch() const { return steps_per_epoch > 0 ? global_step / steps_per_epoch : 0; }
};

std::string checkpoint_file_name(int64_t step);                        // "model-<step>.safetensors"
std::optional<int64_t> step_from_file_name(const std::string& name);   // its inverse, or nullopt

// The file's tensors and metadata, checksums included; saved_at as given (s.saved_at by default).
TensorFile to_tensor_file(const TrainingState& s);
TensorFile to_tensor_file(const TrainingState& s, double saved_at);
// The bytes of s's checkpoint file when saved at `now` (seconds since the Unix epoch).
std::vector<uint8_t> encode_checkpoint(const TrainingState& s, double now);
// Checks format and version, the metadata checksum, each tensor's checksum, that the weights chain
// into a network (w_h, w_h2, ..., w_o), the slots' and global_step's shapes, and the configuration.
// throws CheckpointError naming `what`, the field or tensor, what was expected and what was found.
TrainingState from_tensor_file(const TensorFile& f, const std::string& what);
// Reads and verifies one file (also that global_step matches the step in the file name, when it has one).
TrainingState read_checkpoint(const std::string& path);

// Any safetensors file, decoded and layout-checked (not necessarily a training checkpoint).
// throws CheckpointError naming path.
TensorFile read_tensor_file(const std::string& path);

// The metadata entry 'tensor_crc32' of these tensors: a JSON object of name -> CRC-32 (8 hex digits).
std::string tensor_crc32_json(const std::vector<Tensor>& tensors);
// Checks f's 'tensor_crc32' entry: present, listing exactly f's tensors, every checksum matching.
// throws CheckpointError naming `what`, the tensor, the stored and the computed checksum.
void verify_tensor_crc32(const TensorFile& f, const std::string& what);

// Test hook: the trainer can be made to die (SIGKILL) at a chosen point of the save sequence, or a
// write to fail as with a full disk. Set from MNIST_FAULT by the trainer (see README).
enum class FaultPoint { none, after_temp_write, before_rename, after_rename, before_state_file, write_error };
FaultPoint fault_point_from_string(const std::string& s);  // throws ConfigError for an unknown name

// Writes `bytes` to dir/name atomically and durably (temporary file in dir, fsync, rename, fsync dir).
// On any failure the temporary file is removed and CheckpointError says what failed and why.
void write_file_atomic(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes,
                       FaultPoint fault = FaultPoint::none);

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

// Saver::save on a background thread, one save at a time, so training goes on while the file is
// written and synced (most of a save is the disk's fsync). start() encodes the state (a few ms)
// before it returns; the thread writes those bytes; the outcome is known after wait(). Every
// guarantee of Saver::save holds: a save killed half way leaves the earlier checkpoints and the
// state file as they were.
class BackgroundSaver {
public:
    struct Outcome {
        std::string file;   // the file written, or empty when the save failed
        std::string error;  // why it failed (CheckpointError's message), or empty
        double seconds = 0; // from start() until the file and the state file were durable
    };
    explicit BackgroundSaver(Saver& saver) : saver_(saver) {}
    ~BackgroundSaver();  // waits for a save in flight (its outcome is dropped)
    BackgroundSaver(const BackgroundSaver&) = delete;
    BackgroundSaver& operator=(const BackgroundSaver&) = delete;

    // Waits for the save in flight, if any (its outcome is then lost: call wait() first to read
    // it), and starts saving s as it is now.
    void start(const TrainingState& s, double now);
    // Waits for the save in flight and returns its outcome; nullopt when none was started since.
    std::optional<Outcome> wait();

private:
    Saver& saver_;
    std::thread worker_;
    std::vector<uint8_t> bytes_;  // the file being written; released once it is on disk
    Outcome outcome_;
    bool in_flight_ = false;      // a save was started and wait() has not reported it yet
};

// The checkpoint a reader should use, without changing anything in dir: the state file's
// model_checkpoint_path when that file exists, else the highest-step model file. Returns its path.
// throws CheckpointError when dir does not exist or holds no checkpoint.
std::string latest_checkpoint(const std::string& dir);

// Lists model-<step>.safetensors files in dir, by step ascending: (step, file name).
std::vector<std::pair<int64_t, std::string>> list_checkpoint_files(const std::string& dir);

// An exclusive lock on a training directory (flock on DIR/.lock, which holds the holder's pid).
// The kernel drops it when the holder dies, kill -9 included.
class DirectoryLock {
public:
    // throws CheckpointError naming the directory and the pid of the process holding it.
    explicit DirectoryLock(const std::string& dir);
    ~DirectoryLock();
    DirectoryLock(const DirectoryLock&) = delete;
    DirectoryLock& operator=(const DirectoryLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace mnist
