// The filesystem seam of the checkpoint writer (see io_seam.hpp).
#include "src/checkpoint/io_seam.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>

namespace mnist {
namespace io {
namespace {

std::mutex g_mutex;
FaultPlan g_plan;
int64_t g_calls = 0;
Observer g_observer;
std::map<int, std::string> g_fd_paths;  // for the observer: which file a descriptor writes

// Counts the call; true when the plan says this one fails (errno is then set to the plan's).
bool inject() {
    std::lock_guard<std::mutex> lock(g_mutex);
    const int64_t n = ++g_calls;
    if (g_plan.fail_at <= 0) return false;
    if (n == g_plan.fail_at || (g_plan.persistent && n > g_plan.fail_at)) {
        errno = g_plan.err;
        return true;
    }
    return false;
}

void observe(Op op, const std::string& path, bool ok) {
    const int saved = errno;
    if (g_observer) g_observer(op, path, ok);
    errno = saved;
}

std::string path_of(int fd) {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_fd_paths.find(fd);
    return it == g_fd_paths.end() ? std::string() : it->second;
}

}  // namespace

const char* op_name(Op op) {
    switch (op) {
        case Op::open: return "open";
        case Op::write: return "write";
        case Op::fsync: return "fsync";
        case Op::rename: return "rename";
        case Op::fsync_dir: return "fsync_dir";
        case Op::unlink: return "unlink";
    }
    return "?";
}

int open(const std::string& path, int flags, mode_t mode) {
    const int fd = inject() ? -1 : ::open(path.c_str(), flags, mode);
    if (fd >= 0) {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_fd_paths[fd] = path;
    }
    observe(Op::open, path, fd >= 0);
    return fd;
}

ssize_t write(int fd, const void* data, size_t n) {
    const ssize_t r = inject() ? -1 : ::write(fd, data, n);
    observe(Op::write, path_of(fd), r >= 0);
    return r;
}

int fsync(int fd) {
    const int r = inject() ? -1 : ::fsync(fd);
    observe(Op::fsync, path_of(fd), r == 0);
    return r;
}

int rename(const std::string& from, const std::string& to) {
    const int r = inject() ? -1 : ::rename(from.c_str(), to.c_str());
    observe(Op::rename, to, r == 0);
    return r;
}

int unlink(const std::string& path) {
    const int r = inject() ? -1 : ::unlink(path.c_str());
    observe(Op::unlink, path, r == 0);
    return r;
}

int close(int fd) {
    {
        std::lock_guard<std::mutex> lock(g_mutex);
        g_fd_paths.erase(fd);
    }
    return ::close(fd);
}

int fsync_dir(const std::string& dir) {
    int r = -1;
    if (!inject()) {
        const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            r = ::fsync(fd);
            const int err = errno;
            ::close(fd);
            errno = err;
        }
    }
    observe(Op::fsync_dir, dir, r == 0);
    return r;
}

void set_faults(const FaultPlan& plan) {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_plan = plan;
    g_calls = 0;
}

int64_t calls() {
    std::lock_guard<std::mutex> lock(g_mutex);
    return g_calls;
}

void set_observer(Observer observer) { g_observer = std::move(observer); }

}  // namespace io
}  // namespace mnist
