// Tests of durable I/O: write failures (injected and a real file-size limit) throw and keep what was
// saved before, files are replaced whole, the directory lock excludes a second holder and dies with
// its process, and fault points are read by name.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include "tests/unit/checkpoint_fixture.hpp"

using namespace ckpttest;  // mnist, Contains, TempDir, read_bytes, write_bytes, fs

// Write failures

TEST_CASE("durable_io: a failed write throws, leaves no temporary file and keeps the earlier checkpoint",
          "[durable_io]") {
    TempDir dir;
    save_steps(dir.str(), {1});
    const std::vector<uint8_t> model_before = read_bytes(dir / "model-1.safetensors");
    const std::vector<uint8_t> state_before = read_bytes(dir / "checkpoint");

    Saver failing(dir.str(), 5, 0.0, FaultPoint::write_error);
    failing.restore_latest();
    REQUIRE_THROWS_AS(failing.save(tiny_state(2), 1002.0), CheckpointError);
    REQUIRE_THROWS_WITH(failing.save(tiny_state(2), 1002.0),
                        Contains("model-2.safetensors") && Contains("No space left on device"));
    REQUIRE(temp_files(dir.str()).empty());
    REQUIRE_FALSE(fs::exists(dir / "model-2.safetensors"));
    REQUIRE(read_bytes(dir / "model-1.safetensors") == model_before);
    REQUIRE(read_bytes(dir / "checkpoint") == state_before);
    REQUIRE(failing.state().model_checkpoint_path == "model-1.safetensors");
}

TEST_CASE("durable_io: a save that hits the file size limit throws and keeps the earlier checkpoint",
          "[durable_io]") {
    TempDir dir;
    save_steps(dir.str(), {1});
    const std::vector<uint8_t> model_before = read_bytes(dir / "model-1.safetensors");
    const std::vector<uint8_t> state_before = read_bytes(dir / "checkpoint");
    const std::string path = dir.str();

    // The child may write 64 KiB per file; the state of a 784-100-10 net is about 950 KB.
    const int status = run_in_child([&] {
        signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{64 * 1024, 64 * 1024};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) return 10;
        TrainingState big = tiny_state(2, 3, {784, 100, 10});
        big.config.hidden = {100};
        Saver saver(path, 5, 0.0);
        try {
            saver.save(big, 1002.0);
        } catch (const CheckpointError& e) {
            return std::string(e.what()).find("File too large") != std::string::npos ? 0 : 2;
        }
        return 1;
    });
    INFO("child exit status " << (WIFEXITED(status) ? WEXITSTATUS(status) : -1));
    REQUIRE(exited_with(status, 0));
    REQUIRE(temp_files(path).empty());
    REQUIRE_FALSE(fs::exists(dir / "model-2.safetensors"));
    REQUIRE(read_bytes(dir / "model-1.safetensors") == model_before);
    REQUIRE(read_bytes(dir / "checkpoint") == state_before);
}

TEST_CASE("durable_io: write_file_atomic replaces a file whole and removes its temporary file on failure",
          "[durable_io]") {
    TempDir dir;
    write_file_atomic(dir.str(), "f", {1, 2, 3});
    write_file_atomic(dir.str(), "f", {4, 5});
    REQUIRE(read_bytes(dir / "f") == std::vector<uint8_t>{4, 5});
    REQUIRE_THROWS_AS(write_file_atomic(dir.str(), "f", {6, 7, 8, 9}, FaultPoint::write_error), CheckpointError);
    REQUIRE(read_bytes(dir / "f") == std::vector<uint8_t>{4, 5});
    REQUIRE(temp_files(dir.str()).empty());
}

// The directory lock

TEST_CASE("durable_io: a second lock on a directory fails naming the directory and the holder's pid",
          "[durable_io]") {
    TempDir dir;
    const std::string path = dir.str();
    const std::string parent_pid = std::to_string(getpid());
    {
        DirectoryLock lock(path);
        const int status = run_in_child([&] {
            try {
                DirectoryLock second(path);
            } catch (const CheckpointError& e) {
                const std::string m = e.what();
                return m.find(path) != std::string::npos && m.find("pid " + parent_pid) != std::string::npos ? 0 : 1;
            }
            return 2;
        });
        REQUIRE(exited_with(status, 0));
    }
    DirectoryLock again(path);
    const int status = run_in_child([&] {
        try {
            DirectoryLock second(path);
        } catch (const CheckpointError&) {
            return 0;
        }
        return 1;
    });
    REQUIRE(exited_with(status, 0));  // held again, now by this new lock
}

TEST_CASE("durable_io: the lock of a process killed with SIGKILL is released", "[durable_io]") {
    TempDir dir;
    const std::string path = dir.str();
    std::fflush(nullptr);
    const pid_t child = fork();
    if (child == 0) {
        try {
            DirectoryLock lock(path);
            ::sleep(30);
        } catch (...) {
        }
        _exit(1);
    }
    REQUIRE(child > 0);
    const std::string expected = std::to_string(child) + "\n";
    bool locked = false;
    for (int i = 0; i < 2000 && !locked; ++i) {
        const std::vector<uint8_t> content = read_bytes(dir / ".lock");
        locked = std::string(content.begin(), content.end()) == expected;
        if (!locked) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ::kill(child, SIGKILL);
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(locked);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
    REQUIRE_NOTHROW(DirectoryLock{path});
}

TEST_CASE("durable_io: fault_point_from_string reads the known names and rejects an unknown one",
          "[durable_io]") {
    REQUIRE(fault_point_from_string("") == FaultPoint::none);
    REQUIRE(fault_point_from_string("after_temp_write") == FaultPoint::after_temp_write);
    REQUIRE(fault_point_from_string("write_error") == FaultPoint::write_error);
    REQUIRE_THROWS_AS(fault_point_from_string("after_lunch"), ConfigError);
    REQUIRE_THROWS_WITH(fault_point_from_string("after_lunch"), Contains("after_lunch") && Contains("after_temp_write"));
}
