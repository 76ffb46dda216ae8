// Tests of the filesystem seam of the checkpoint writer: a fault plan fails the Nth call with the
// chosen errno, once or from then on; the observer sees every call with its path; the writer's
// calls all go through it (a write_file_atomic failing at each of its calls leaves the old file).
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "src/checkpoint/durable_io.hpp"
#include "src/checkpoint/io_seam.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using Catch::Matchers::Contains;
using testutil::TempDir;

namespace {

// Clears the plan and the observer when a test ends, whatever happens in it.
struct SeamReset {
    ~SeamReset() {
        io::set_faults({});
        io::set_observer({});
    }
};

}  // namespace

TEST_CASE("io_seam: the Nth call fails with the chosen errno once and the others behave as the system calls",
          "[io_seam]") {
    SeamReset reset;
    TempDir dir;
    io::set_faults({2, EDQUOT, false});
    const int fd = io::open(dir / "a", O_WRONLY | O_CREAT | O_TRUNC);
    REQUIRE(fd >= 0);
    errno = 0;
    REQUIRE(io::write(fd, "xy", 2) == -1);
    REQUIRE(errno == EDQUOT);
    REQUIRE(io::write(fd, "xy", 2) == 2);
    REQUIRE(io::fsync(fd) == 0);
    REQUIRE(io::close(fd) == 0);
    REQUIRE(io::rename(dir / "a", dir / "b") == 0);
    REQUIRE(io::fsync_dir(dir.str()) == 0);
    REQUIRE(io::unlink(dir / "b") == 0);
    REQUIRE(io::calls() == 7);  // open, write, write, fsync, rename, fsync_dir, unlink (close is not counted)
}

TEST_CASE("io_seam: a persistent fault fails every call from the Nth on until the plan is cleared", "[io_seam]") {
    SeamReset reset;
    TempDir dir;
    io::set_faults({3, EROFS, true});
    REQUIRE(io::fsync_dir(dir.str()) == 0);
    const int fd = io::open(dir / "a", O_WRONLY | O_CREAT | O_TRUNC);
    REQUIRE(fd >= 0);
    for (int i = 0; i < 3; ++i) {
        errno = 0;
        REQUIRE(io::fsync(fd) == -1);
        REQUIRE(errno == EROFS);
    }
    REQUIRE(io::unlink(dir / "a") == -1);
    REQUIRE(std::filesystem::exists(dir / "a"));
    io::set_faults({});
    REQUIRE(io::unlink(dir / "a") == 0);
    io::close(fd);
}

TEST_CASE("io_seam: the observer sees each call with its path and whether it succeeded", "[io_seam]") {
    SeamReset reset;
    TempDir dir;
    std::vector<std::string> seen;
    io::set_observer([&](io::Op op, const std::string& path, bool ok) {
        const std::string name = std::filesystem::path(path).filename().string();
        seen.push_back(std::string(io::op_name(op)) + " " + (name.rfind(".x.tmp-", 0) == 0 ? ".x.tmp" : name) +
                       (ok ? "" : " failed"));
    });
    io::set_faults({4, ENOSPC, false});
    REQUIRE_THROWS_WITH(write_file_atomic(dir.str(), "x", {1, 2, 3}), Contains(std::strerror(ENOSPC)));
    REQUIRE(seen == std::vector<std::string>{"open .x.tmp", "write .x.tmp", "fsync .x.tmp", "rename x failed",
                                             "unlink .x.tmp"});
    REQUIRE_FALSE(std::filesystem::exists(dir / "x"));
}

TEST_CASE("io_seam: write_file_atomic failing at any of its calls with any errno keeps the old file whole",
          "[io_seam]") {
    SeamReset reset;
    for (int err : {ENOSPC, EIO, EDQUOT, EROFS}) {
        for (bool persistent : {false, true}) {
            for (int64_t n = 1; n <= 5; ++n) {  // open, write, fsync, rename, fsync_dir
                INFO("errno " << err << ", call " << n << (persistent ? ", persistent" : ", once"));
                TempDir dir;
                testutil::write_bytes(dir / "x", {9, 9});
                io::set_faults({n, err, persistent});
                REQUIRE_THROWS_WITH(write_file_atomic(dir.str(), "x", {1, 2, 3}), Contains(std::strerror(err)));
                io::set_faults({});
                const std::vector<uint8_t> now = testutil::read_bytes(dir / "x");
                // Only a failed fsync of the directory comes after the rename: then the new file is whole.
                REQUIRE(now == (n == 5 ? std::vector<uint8_t>{1, 2, 3} : std::vector<uint8_t>{9, 9}));
                size_t temporaries = 0;
                for (const auto& e : std::filesystem::directory_iterator(dir.path))
                    temporaries += e.path().filename().string().find(".tmp-") != std::string::npos;
                // A temporary file stays only when its removal failed too (the next restore removes it).
                REQUIRE(temporaries == (persistent && n >= 2 && n < 5 ? 1u : 0u));
            }
        }
    }
}
