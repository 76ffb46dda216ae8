// Durable file I/O and the directory lock (see durable_io.hpp).
#include "src/checkpoint/durable_io.hpp"

#include "src/checkpoint/io_seam.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>

namespace fs = std::filesystem;

namespace mnist {
namespace {

std::string errno_text() { return std::strerror(errno); }

}  // namespace

void die_for_test(FaultPoint p) {
    std::fprintf(stderr, "MNIST_FAULT: killing the trainer at fault point %d\n", int(p));
    std::fflush(stderr);
    kill(getpid(), SIGKILL);
    _exit(137);
}

void fsync_dir(const std::string& dir) {
    if (io::fsync_dir(dir) != 0) throw CheckpointError("cannot sync directory '" + dir + "': " + errno_text());
}

namespace {
std::string mode_kind(mode_t mode) {
    if (S_ISREG(mode)) return "is a regular file";
    if (S_ISDIR(mode)) return "is a directory";
    if (S_ISCHR(mode)) return "is a character device";
    if (S_ISBLK(mode)) return "is a block device";
    if (S_ISFIFO(mode)) return "is a named pipe";
    if (S_ISSOCK(mode)) return "is a socket";
    return "is not a regular file";
}
}  // namespace

std::string path_kind(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return errno == ENOENT ? "does not exist" : "cannot be examined (" + errno_text() + ")";
    return mode_kind(st.st_mode);
}

void require_regular_file(const std::string& path, const std::string& role) {
    const std::string kind = path_kind(path);
    if (kind != "is a regular file") throw CheckpointError("'" + path + "' " + kind + ", expected a " + role);
}

void require_directory(const std::string& path, const std::string& role) {
    const std::string kind = path_kind(path);
    if (kind != "is a directory") throw CheckpointError("'" + path + "' " + kind + ", expected a " + role);
}

std::vector<uint8_t> read_file(const std::string& path) {
    std::optional<std::vector<uint8_t>> bytes = read_file_if_exists(path);
    if (!bytes) throw CheckpointError(path + ": cannot open: " + std::strerror(ENOENT));
    return std::move(*bytes);
}

std::optional<std::vector<uint8_t>> read_file_if_exists(const std::string& path) {
    // O_NONBLOCK: a named pipe must not block the open (it is refused below); no effect on files.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0 && errno == ENOENT) return std::nullopt;
    if (fd < 0) throw CheckpointError(path + ": cannot open: " + errno_text());
    // From here on the descriptor is the file: a rename or an unlink of the name changes nothing.
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        throw CheckpointError(path + ": cannot read: " + std::strerror(err));
    }
    // A directory or a device would fail with a message naming nothing, or never end.
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw CheckpointError("'" + path + "' " + mode_kind(st.st_mode) + ", expected a file to read");
    }
    std::vector<uint8_t> bytes;
    bytes.reserve(size_t(st.st_size));
    uint8_t buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw CheckpointError(path + ": read error: " + std::strerror(err));
        }
        if (n == 0) break;
        bytes.insert(bytes.end(), buf, buf + n);
    }
    ::close(fd);
    return bytes;
}

void write_file_atomic(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes,
                       FaultPoint fault) {
    const std::string final_path = (fs::path(dir) / name).string();
    const std::string tmp = (fs::path(dir) / ("." + name + ".tmp-" + std::to_string(getpid()))).string();
    const int fd = io::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw CheckpointError("cannot create '" + tmp + "': " + errno_text());
    auto fail = [&](const std::string& step, int err) {
        io::close(fd);
        io::unlink(tmp);
        throw CheckpointError("cannot write '" + final_path + "' (" + step + " of its temporary file failed: " +
                              std::strerror(err) + "); earlier checkpoints are untouched");
    };
    // With the write_error fault the disk "fills up" halfway through the file.
    const size_t limit = fault == FaultPoint::write_error ? bytes.size() / 2 : bytes.size();
    size_t done = 0;
    while (done < bytes.size()) {
        if (done >= limit) fail("write", ENOSPC);
        const ssize_t n = io::write(fd, bytes.data() + done, limit - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("write", n < 0 ? errno : EIO);
        done += size_t(n);
    }
    if (io::fsync(fd) != 0) fail("fsync", errno);
    if (io::close(fd) != 0) {
        const int err = errno;
        io::unlink(tmp);
        throw CheckpointError("cannot write '" + final_path + "' (close failed: " + std::strerror(err) + ")");
    }
    if (fault == FaultPoint::after_temp_write || fault == FaultPoint::before_rename) die_for_test(fault);
    if (io::rename(tmp, final_path) != 0) {
        const int err = errno;
        io::unlink(tmp);
        throw CheckpointError("cannot rename '" + tmp + "' to '" + final_path + "': " + std::strerror(err));
    }
    fsync_dir(dir);
}

FaultPoint fault_point_from_string(const std::string& s) {
    static const std::map<std::string, FaultPoint> names = {
        {"", FaultPoint::none},
        {"after_temp_write", FaultPoint::after_temp_write},
        {"before_rename", FaultPoint::before_rename},
        {"after_rename", FaultPoint::after_rename},
        {"before_state_file", FaultPoint::before_state_file},
        {"write_error", FaultPoint::write_error}};
    auto it = names.find(s);
    if (it == names.end())
        throw ConfigError("MNIST_FAULT: unknown fault point '" + s +
                          "' (expected after_temp_write, before_rename, after_rename, before_state_file or write_error)");
    return it->second;
}

DirectoryLock::DirectoryLock(const std::string& dir) {
    const std::string path = (fs::path(dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw CheckpointError("cannot open lock file '" + path + "': " + errno_text());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        std::string holder = n > 0 ? std::string(buf, size_t(n)) : "unknown";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        ::close(fd_);
        fd_ = -1;
        throw CheckpointError("checkpoint directory '" + dir + "' is in use by another trainer (pid " + holder +
                              "); wait for it to finish or stop it first");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        // The lock itself holds; the pid is only for the message of a second trainer.
    }
}

DirectoryLock::~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace mnist
