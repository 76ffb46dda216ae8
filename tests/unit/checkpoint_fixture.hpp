// Shared by the checkpoint tests: a tiny but complete training state, byte-for-byte comparisons, a
// directory of saved steps, listings of model and temporary files, the state file as read back, a
// safetensors header, and a forked child for kills and resource limits.
#pragma once
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "tests/unit/fixture.hpp"

namespace ckpttest {

using namespace mnist;
using Catch::Matchers::Contains;
using testutil::read_bytes;
using testutil::TempDir;
using testutil::write_bytes;
namespace fs = std::filesystem;


using Names = std::vector<std::string>;

// A tiny but complete training state: net sizes {6, 5, 4, 10} by default (config.hidden = {5, 4}),
// slots that differ from their initial values, and an epoch_loss_sum with no short decimal form.
inline TrainingState tiny_state(int64_t step, uint64_t seed = 1, const std::vector<int>& sizes = {6, 5, 4, 10}) {
    TrainingState s;
    s.config = testutil::small_config("data", "ckpt");
    s.config.hidden = {5, 4};
    s.net = init_mlp(sizes, seed);
    s.opt = make_rmsprop(s.net, {float(s.config.learning_rate), float(s.config.decay), float(s.config.momentum),
                                 float(s.config.epsilon)});
    for (size_t l = 0; l < s.net.layers(); ++l) {
        s.opt.ms[l] = s.net.weights[l].cwiseAbs().array() + 0.5f;
        s.opt.mom[l] = s.net.weights[l] * 0.125f;
    }
    s.global_step = step;
    s.steps_per_epoch = 7;
    s.epoch_loss_sum = 1.0 / 3 + double(step);
    return s;
}

inline bool same_bytes(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0;
}

inline bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

inline void require_same_state(const TrainingState& got, const TrainingState& want) {
    REQUIRE(got.net.sizes == want.net.sizes);
    REQUIRE(got.net.layers() == want.net.layers());
    for (size_t l = 0; l < want.net.layers(); ++l) {
        REQUIRE(same_bytes(got.net.weights[l], want.net.weights[l]));
        REQUIRE(same_bytes(got.opt.ms[l], want.opt.ms[l]));
        REQUIRE(same_bytes(got.opt.mom[l], want.opt.mom[l]));
    }
    REQUIRE(got.global_step == want.global_step);
    REQUIRE(got.steps_per_epoch == want.steps_per_epoch);
    REQUIRE(same_bits(got.epoch_loss_sum, want.epoch_loss_sum));
    REQUIRE(to_json(got.config) == to_json(want.config));
}

// Saves tiny states at the given steps (timestamps 1000 + step) and returns the Saver.
inline Saver save_steps(const std::string& dir, const std::vector<int64_t>& steps, int64_t max_to_keep = 0) {
    Saver saver(dir, max_to_keep, 0.0);
    for (int64_t step : steps) saver.save(tiny_state(step), 1000.0 + double(step));
    return saver;
}

inline Names model_files(const std::string& dir) {
    Names out;
    for (const auto& [step, name] : list_checkpoint_files(dir)) out.push_back(name);
    return out;
}

inline Names temp_files(const std::string& dir) {
    Names out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().filename().string());
    return out;
}

inline CheckpointState read_state_file(const std::string& dir) {
    const std::vector<uint8_t> bytes = read_bytes(dir + "/checkpoint");
    return parse_checkpoint_state(std::string(bytes.begin(), bytes.end()), dir + "/checkpoint");
}

// Header JSON of a safetensors file and the offset of its data section.
inline nlohmann::json header_of(const std::vector<uint8_t>& bytes, size_t& data_start) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(bytes.at(size_t(i))) << (8 * i);
    data_start = 8 + size_t(n);
    return nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + long(data_start));
}

// Runs body() in a forked child (stderr silenced) and returns the wait status. The child leaves
// through _exit, so no destructor of the parent's objects (TempDir!) runs in it.
template <class F>
inline int run_in_child(F&& body) {
    std::fflush(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        const int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 2);
        int code = 98;
        try {
            code = body();
        } catch (...) {
            code = 99;
        }
        _exit(code);
    }
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    return status;
}

inline bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

}  // namespace ckpttest
