// The one seam between the checkpoint writer (checkpoint files and the `checkpoint` state file) and
// the filesystem: every open, write, fsync, rename, directory fsync and unlink of a save goes
// through these functions, which behave exactly like the system calls unless a test has armed a
// fault. Then the Nth call (counted from arming, 1-based) fails with a chosen errno (ENOSPC, EIO,
// EDQUOT, EROFS, ...), once or from then on, as SQLite's test VFS does to every call of its suite.
// A test can also watch each call (to build the directory as a crash after that call would leave it).
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace mnist {
namespace io {

enum class Op { open, write, fsync, rename, fsync_dir, unlink };
const char* op_name(Op op);

// Like ::open, ::write, ::fsync, ::rename, ::unlink: the result, errno set on failure.
int open(const std::string& path, int flags, mode_t mode = 0644);
ssize_t write(int fd, const void* data, size_t n);
int fsync(int fd);
int rename(const std::string& from, const std::string& to);
int unlink(const std::string& path);
// ::close, never failed by a plan and not counted (it only forgets the descriptor's path).
int close(int fd);
// Opens the directory, fsyncs it and closes it: one call for the seam. 0, or -1 with errno set.
int fsync_dir(const std::string& dir);

// The fault plan of a test. fail_at = 0: no fault. Otherwise call number fail_at fails with `err`,
// and with persistent every later call too (a disk that stays full), else only that one.
struct FaultPlan {
    int64_t fail_at = 0;
    int err = 0;
    bool persistent = false;
};
// Arms `plan` and restarts the call count. Thread-safe (saves run on a background thread).
void set_faults(const FaultPlan& plan);
// Calls made since the last set_faults (failed ones included).
int64_t calls();

// Called after every call through the seam (also a failed one) with the operation, the path it
// concerned (for write and fsync, the path the descriptor was opened with) and whether it succeeded.
// Empty: none. Not thread-safe to change while a save runs.
using Observer = std::function<void(Op op, const std::string& path, bool ok)>;
void set_observer(Observer observer);

}  // namespace io
}  // namespace mnist
