// Files that are whole or absent: a write goes to a temporary file in the same directory, is
// fsync'd, renamed over the target and the directory fsync'd, so a crash at any moment leaves the
// old file or the new one, never a part. Also whole-file reads, and the lock that keeps a second
// trainer out of a checkpoint directory.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/errors.hpp"

namespace mnist {

// Test hook: the trainer can be made to die (SIGKILL) at a chosen point of the save sequence, or a
// write to fail as with a full disk. Set from MNIST_FAULT by ./train (docs/design.md).
enum class FaultPoint { none, after_temp_write, before_rename, after_rename, before_state_file, write_error };
FaultPoint fault_point_from_string(const std::string& s);  // throws ConfigError for an unknown name
// Kills this process with SIGKILL, as the fault point p asks.
[[noreturn]] void die_for_test(FaultPoint p);

// Writes `bytes` to dir/name atomically and durably (temporary file in dir, fsync, rename, fsync dir),
// every filesystem call through io_seam.hpp. On any failure the temporary file is removed and CheckpointError says what failed and why.
void write_file_atomic(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes,
                       FaultPoint fault = FaultPoint::none);
// fsync of a directory, making the renames and deletions in it durable. throws CheckpointError.
void fsync_dir(const std::string& dir);
// The whole file, read from one descriptor (a file renamed or deleted once opened is still read
// whole). throws CheckpointError naming path and the system's reason.
std::vector<uint8_t> read_file(const std::string& path);
// The same, but nullopt when path does not exist (a reader racing a trainer's retention).
std::optional<std::vector<uint8_t>> read_file_if_exists(const std::string& path);

// What is at path, for messages: "does not exist", "is a directory", "is a regular file",
// "is a character device", ...
std::string path_kind(const std::string& path);
// throws CheckpointError naming path, `role` ("checkpoint file", "checkpoint directory") and what is
// there instead, unless path is a regular file / a directory (symbolic links followed).
void require_regular_file(const std::string& path, const std::string& role);
void require_directory(const std::string& path, const std::string& role);

// An exclusive lock on a training directory (flock on DIR/.lock, which holds the holder's pid).
// The kernel drops it when the holder dies, kill -9 included.
class DirectoryLock {
public:
    // throws CheckpointError naming the directory and the pid of the process holding it.
    explicit DirectoryLock(const std::string& dir);
    DirectoryLock(DirectoryLock&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
    ~DirectoryLock();
    DirectoryLock(const DirectoryLock&) = delete;
    DirectoryLock& operator=(const DirectoryLock&) = delete;

private:
    int fd_ = -1;
};

}  // namespace mnist
