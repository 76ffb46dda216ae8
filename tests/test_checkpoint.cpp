// Tests of the checkpoint module: a saved state reads back bit for bit from a valid safetensors file;
// every kind of damage (truncation, flipped bits, edited metadata, wrong shapes, a renamed file) is
// rejected with a message naming the file and the problem; restore moves damaged files aside and
// rebuilds the state file; retention, write failures (injected and a real file-size limit), kills at
// each point of the save sequence and the directory lock leave a directory that still restores.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "src/checkpoint.hpp"
#include "tests/test_util.hpp"

using namespace mnist;
using Catch::Matchers::Contains;
using testutil::read_bytes;
using testutil::TempDir;
using testutil::write_bytes;
namespace fs = std::filesystem;

namespace {

using Names = std::vector<std::string>;

// A tiny but complete training state: net sizes {6, 5, 4, 10} by default (config.hidden = {5, 4}),
// slots that differ from their initial values, and an epoch_loss_sum with no short decimal form.
TrainingState tiny_state(int64_t step, uint64_t seed = 1, const std::vector<int>& sizes = {6, 5, 4, 10}) {
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

bool same_bytes(const Matrix& a, const Matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.size())) == 0;
}

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

void require_same_state(const TrainingState& got, const TrainingState& want) {
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
Saver save_steps(const std::string& dir, const std::vector<int64_t>& steps, int64_t max_to_keep = 0) {
    Saver saver(dir, max_to_keep, 0.0);
    for (int64_t step : steps) saver.save(tiny_state(step), 1000.0 + double(step));
    return saver;
}

Names model_files(const std::string& dir) {
    Names out;
    for (const auto& [step, name] : list_checkpoint_files(dir)) out.push_back(name);
    return out;
}

Names temp_files(const std::string& dir) {
    Names out;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.path().filename().string().find(".tmp-") != std::string::npos) out.push_back(e.path().filename().string());
    return out;
}

CheckpointState read_state_file(const std::string& dir) {
    const std::vector<uint8_t> bytes = read_bytes(dir + "/checkpoint");
    return parse_checkpoint_state(std::string(bytes.begin(), bytes.end()), dir + "/checkpoint");
}

// Header JSON of a safetensors file and the offset of its data section.
nlohmann::json header_of(const std::vector<uint8_t>& bytes, size_t& data_start) {
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(bytes.at(size_t(i))) << (8 * i);
    data_start = 8 + size_t(n);
    return nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + long(data_start));
}

// Runs body() in a forked child (stderr silenced) and returns the wait status. The child leaves
// through _exit, so no destructor of the parent's objects (TempDir!) runs in it.
template <class F>
int run_in_child(F&& body) {
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

bool exited_with(int status, int code) { return WIFEXITED(status) && WEXITSTATUS(status) == code; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// The file itself

TEST_CASE("checkpoint: a saved state reads back with identical weights, slots, step, loss sum and config",
          "[checkpoint]") {
    TempDir dir;
    Saver saver(dir.str(), 5, 0.0);
    const TrainingState s = tiny_state(42);
    REQUIRE(saver.save(s, 1234.5) == "model-42.safetensors");
    const TrainingState r = read_checkpoint(dir / "model-42.safetensors");
    require_same_state(r, s);
    REQUIRE(r.saved_at == 1234.5);
    REQUIRE(r.epoch() == 42 / 7);
    REQUIRE(r.opt.config.learning_rate == float(s.config.learning_rate));
}

TEST_CASE("checkpoint: file names carry the step and only canonical names are read back", "[checkpoint]") {
    REQUIRE(checkpoint_file_name(120) == "model-120.safetensors");
    REQUIRE(step_from_file_name("model-120.safetensors") == 120);
    REQUIRE(step_from_file_name("model-0.safetensors") == 0);
    REQUIRE_FALSE(step_from_file_name("model-012.safetensors"));
    REQUIRE_FALSE(step_from_file_name("model-.safetensors"));
    REQUIRE_FALSE(step_from_file_name("model-12.safetensors.damaged"));
    REQUIRE_FALSE(step_from_file_name(".model-12.safetensors.tmp-99"));
}

TEST_CASE("checkpoint: the written file is valid safetensors with the tensors and metadata a reader expects",
          "[checkpoint]") {
    TempDir dir;
    Saver saver(dir.str(), 5, 0.0);
    const TrainingState s = tiny_state(14);
    saver.save(s, 2000.0);
    const std::vector<uint8_t> bytes = read_bytes(dir / "model-14.safetensors");
    size_t data_start = 0;
    const nlohmann::json h = header_of(bytes, data_start);
    REQUIRE(data_start % 8 == 0);

    for (const char* name : {"w_h", "w_h2", "w_o", "w_h/RMSProp", "w_h/RMSProp_1", "w_o/RMSProp_1"}) {
        INFO(name);
        REQUIRE(h.contains(name));
        REQUIRE(h[name]["dtype"] == "F32");
    }
    REQUIRE(h["w_h"]["shape"] == nlohmann::json::array({6, 5}));
    REQUIRE(h["w_h2"]["shape"] == nlohmann::json::array({5, 4}));
    REQUIRE(h["w_o"]["shape"] == nlohmann::json::array({4, 10}));
    REQUIRE(h["global_step"]["dtype"] == "I64");
    REQUIRE(h["global_step"]["shape"] == nlohmann::json::array());

    // The bytes of w_h are the weights, little-endian row-major, where data_offsets says.
    const auto off = h["w_h"]["data_offsets"];
    REQUIRE(off[1].get<size_t>() - off[0].get<size_t>() == 6 * 5 * sizeof(float));
    REQUIRE(std::memcmp(bytes.data() + data_start + off[0].get<size_t>(), s.net.weights[0].data(),
                        6 * 5 * sizeof(float)) == 0);
    const auto gs = h["global_step"]["data_offsets"];
    int64_t step = 0;
    std::memcpy(&step, bytes.data() + data_start + gs[0].get<size_t>(), 8);
    REQUIRE(step == 14);

    const nlohmann::json& md = h["__metadata__"];
    REQUIRE(md["format_version"] == "1");
    REQUIRE(md["epoch"] == "2");
    REQUIRE(nlohmann::json::parse(md["config"].get<std::string>())["hidden"] == nlohmann::json::array({5, 4}));
    const nlohmann::json sums = nlohmann::json::parse(md["tensor_crc32"].get<std::string>());
    REQUIRE(sums.size() == 10);  // 3 weights, 6 slots, global_step
    REQUIRE(sums.contains("w_h2/RMSProp"));
}

// ---------------------------------------------------------------------------------------------
// Damaged files

TEST_CASE("checkpoint: a truncated file is rejected with a message naming the file", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {3});
    const std::string path = dir / "model-3.safetensors";
    const std::vector<uint8_t> whole = read_bytes(path);
    const size_t size = whole.size();
    const size_t length = GENERATE_COPY(size_t(0), size_t(7), size_t(8), size / 2, size - 8, size - 1);
    INFO("truncated to " << length << " of " << size << " bytes");
    write_bytes(path, std::vector<uint8_t>(whole.begin(), whole.begin() + long(length)));
    REQUIRE_THROWS_AS(read_checkpoint(path), CheckpointError);
    REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path));
    if (length < 8) REQUIRE_THROWS_WITH(read_checkpoint(path), Contains("shorter than the 8-byte header length"));
    if (length >= size - 8) REQUIRE_THROWS_WITH(read_checkpoint(path), Contains("beyond the data section"));
}

TEST_CASE("checkpoint: a flipped bit in tensor data is a checksum mismatch naming the tensor", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {3});
    const std::string path = dir / "model-3.safetensors";
    std::vector<uint8_t> bytes = read_bytes(path);
    size_t data_start = 0;
    const nlohmann::json h = header_of(bytes, data_start);
    const std::string name = GENERATE(as<std::string>{}, "w_h", "w_h2", "w_o/RMSProp", "w_h2/RMSProp_1", "global_step");
    INFO(name);
    bytes[data_start + h[name]["data_offsets"][0].get<size_t>() + 1] ^= 0x10;
    write_bytes(path, bytes);
    REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path) && Contains("checksum mismatch in tensor '" + name + "'"));
}

TEST_CASE("checkpoint: a flipped byte in the JSON header is rejected", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {3});
    const std::string path = dir / "model-3.safetensors";
    std::vector<uint8_t> bytes = read_bytes(path);
    SECTION("the opening brace") {
        bytes[8] ^= 0x01;
        write_bytes(path, bytes);
        REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path) && Contains("not valid UTF-8 JSON"));
    }
    SECTION("a digit of a shape") {
        const size_t at = std::string(bytes.begin(), bytes.end()).find("\"shape\":[6,5]");
        REQUIRE(at != std::string::npos);
        bytes[at + 9] = '7';  // [6,5] -> [7,5]: the declared size no longer matches the offsets
        write_bytes(path, bytes);
        REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path) && Contains("tensor \"w_h\""));
    }
}

TEST_CASE("checkpoint: an edited metadata value is a metadata checksum mismatch", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {3});
    const std::string path = dir / "model-3.safetensors";
    SECTION("a byte changed in place") {
        std::vector<uint8_t> bytes = read_bytes(path);
        const std::string key = "\"steps_per_epoch\":\"7\"";
        const size_t at = std::string(bytes.begin(), bytes.end()).find(key);
        REQUIRE(at != std::string::npos);
        bytes[at + key.size() - 2] = '8';
        write_bytes(path, bytes);
    }
    SECTION("a value rewritten by a tool that re-encodes the file") {
        TensorFile f = decode_safetensors(read_bytes(path), path);
        f.metadata["epoch_loss_sum"] = "0x1p+0";
        write_bytes(path, encode_safetensors(f));
    }
    REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path) && Contains("metadata checksum mismatch"));
}

TEST_CASE("checkpoint: weights whose shape disagrees with the configuration are rejected naming the tensor",
          "[checkpoint]") {
    TempDir dir;
    Saver saver(dir.str(), 5, 0.0);
    SECTION("a hidden layer narrower than config.hidden says") {
        saver.save(tiny_state(3, 1, {6, 5, 3, 10}), 1000.0);  // config.hidden is still {5, 4}
        const std::string path = dir / "model-3.safetensors";
        REQUIRE_THROWS_WITH(read_checkpoint(path),
                            Contains(path) && Contains("tensor 'w_h2' has 3 columns") && Contains("has 4"));
    }
    SECTION("a slot shaped differently from its weight") {
        TrainingState s = tiny_state(3);
        s.opt.ms[1] = Matrix::Constant(4, 5, 1.0f);
        saver.save(s, 1000.0);
        const std::string path = dir / "model-3.safetensors";
        REQUIRE_THROWS_WITH(read_checkpoint(path),
                            Contains(path) && Contains("tensor 'w_h2/RMSProp' should be F32 [5,4], found F32 [4,5]"));
    }
}

TEST_CASE("checkpoint: a file whose name disagrees with its global_step is rejected", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {3});
    fs::rename(dir / "model-3.safetensors", dir / "model-4.safetensors");
    REQUIRE_THROWS_WITH(read_checkpoint(dir / "model-4.safetensors"),
                        Contains(dir / "model-4.safetensors") &&
                            Contains("the file name says step 4 but global_step is 3"));
}

TEST_CASE("checkpoint: a file that is not a checkpoint of this program is rejected", "[checkpoint]") {
    TempDir dir;
    const std::string path = dir / "model-3.safetensors";
    TensorFile f = to_tensor_file(tiny_state(3));
    SECTION("another format") {
        f.metadata["format"] = "something-else";
        write_bytes(path, encode_safetensors(f));
        REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path) && Contains("metadata 'format'"));
    }
    SECTION("a later format version") {
        f.metadata["format_version"] = "2";
        write_bytes(path, encode_safetensors(f));
        REQUIRE_THROWS_WITH(read_checkpoint(path), Contains(path) && Contains("unsupported format_version '2'"));
    }
    SECTION("a missing slot") {
        f.tensors.erase(f.tensors.begin() + 4);  // w_h2/RMSProp
        write_bytes(path, encode_safetensors(f));
        REQUIRE_THROWS_AS(read_checkpoint(path), CheckpointError);
    }
}

// ---------------------------------------------------------------------------------------------
// Restore

TEST_CASE("checkpoint: restore picks the checkpoint with the highest step", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {7, 21, 14});
    Saver saver(dir.str(), 0, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.state);
    REQUIRE(r.file == "model-21.safetensors");
    require_same_state(*r.state, tiny_state(21));
    REQUIRE(saver.state().model_checkpoint_path == "model-21.safetensors");
}

TEST_CASE("checkpoint: a truncated newest file is moved aside and the previous one restored", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2});
    const std::string newest = dir / "model-2.safetensors";
    std::vector<uint8_t> bytes = read_bytes(newest);
    bytes.resize(bytes.size() / 2);
    write_bytes(newest, bytes);

    Saver saver(dir.str(), 0, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.state);
    REQUIRE(r.file == "model-1.safetensors");
    require_same_state(*r.state, tiny_state(1));
    REQUIRE_FALSE(fs::exists(newest));
    REQUIRE(read_bytes(newest + ".damaged") == bytes);
    bool warned = false;
    for (const std::string& w : r.warnings)
        warned = warned || (w.find(newest) != std::string::npos && w.find("model-2.safetensors.damaged") != std::string::npos);
    REQUIRE(warned);
    // The state file now names the file that was restored.
    const CheckpointState st = read_state_file(dir.str());
    REQUIRE(st.model_checkpoint_path == "model-1.safetensors");
    REQUIRE(st.all_model_checkpoint_paths == Names{"model-1.safetensors"});
    REQUIRE(latest_checkpoint(dir.str()) == dir / "model-1.safetensors");
}

TEST_CASE("checkpoint: a second damaged copy of the same name does not overwrite the first one moved aside",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2});
    write_bytes(dir / "model-2.safetensors.damaged", {1, 2, 3});
    write_bytes(dir / "model-2.safetensors", {4, 5, 6});
    Saver saver(dir.str(), 0, 0.0);
    REQUIRE(saver.restore_latest().file == "model-1.safetensors");
    REQUIRE(read_bytes(dir / "model-2.safetensors.damaged") == std::vector<uint8_t>{1, 2, 3});
    REQUIRE(read_bytes(dir / "model-2.safetensors.damaged.1") == std::vector<uint8_t>{4, 5, 6});
}

TEST_CASE("checkpoint: restore in an empty directory gives no state and writes nothing", "[checkpoint]") {
    TempDir dir;
    Saver saver(dir.str(), 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE_FALSE(r.state);
    REQUIRE(r.file.empty());
    REQUIRE(fs::is_empty(dir.path));
}

TEST_CASE("checkpoint: restore removes the temporary files of interrupted saves and nothing else",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1});
    write_bytes(dir / ".model-2.safetensors.tmp-12345", {1, 2, 3});
    write_bytes(dir / ".checkpoint.tmp-12345", {4});
    write_bytes(dir / "notes.txt", {5});
    Saver saver(dir.str(), 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.file == "model-1.safetensors");
    REQUIRE(temp_files(dir.str()).empty());
    REQUIRE(fs::exists(dir / "notes.txt"));
    REQUIRE(r.warnings.size() == 2);
}

// ---------------------------------------------------------------------------------------------
// The state file

TEST_CASE("checkpoint: the state file lists the checkpoints oldest first by relative name, newest as current",
          "[checkpoint]") {
    TempDir dir;
    Saver saver = save_steps(dir.str(), {5, 10, 15});
    const CheckpointState st = read_state_file(dir.str());
    REQUIRE(st.model_checkpoint_path == "model-15.safetensors");
    REQUIRE(st.all_model_checkpoint_paths == Names{"model-5.safetensors", "model-10.safetensors", "model-15.safetensors"});
    REQUIRE(st.all_model_checkpoint_timestamps == std::vector<double>{1005.0, 1010.0, 1015.0});
    REQUIRE(saver.state().all_model_checkpoint_paths == st.all_model_checkpoint_paths);
}

TEST_CASE("checkpoint: a deleted or garbage state file is rebuilt from the files present", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {5, 10});
    SECTION("deleted") { fs::remove(dir / "checkpoint"); }
    SECTION("garbage") { write_bytes(dir / "checkpoint", {'x', 0xff, '"', '\n', 0}); }
    SECTION("naming files that are gone") {
        CheckpointState stale;
        stale.model_checkpoint_path = "model-99.safetensors";
        stale.all_model_checkpoint_paths = {"model-98.safetensors", "model-99.safetensors"};
        const std::string text = format_checkpoint_state(stale);
        write_bytes(dir / "checkpoint", std::vector<uint8_t>(text.begin(), text.end()));
    }
    Saver saver(dir.str(), 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.file == "model-10.safetensors");
    REQUIRE_FALSE(r.warnings.empty());
    const CheckpointState st = read_state_file(dir.str());
    REQUIRE(st.model_checkpoint_path == "model-10.safetensors");
    REQUIRE(st.all_model_checkpoint_paths == Names{"model-5.safetensors", "model-10.safetensors"});
    REQUIRE(st.all_model_checkpoint_timestamps.size() == 2);
}

TEST_CASE("checkpoint: a state file that matches the files present is left as it is", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {5, 10});
    const std::vector<uint8_t> before = read_bytes(dir / "checkpoint");
    Saver saver(dir.str(), 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.warnings.empty());
    REQUIRE(read_bytes(dir / "checkpoint") == before);
}

// ---------------------------------------------------------------------------------------------
// Retention

TEST_CASE("checkpoint: max_to_keep 2 keeps the newest two files on disk", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3, 4}, 2);
    REQUIRE(model_files(dir.str()) == Names{"model-3.safetensors", "model-4.safetensors"});
    REQUIRE(read_state_file(dir.str()).all_model_checkpoint_paths == Names{"model-3.safetensors", "model-4.safetensors"});
}

TEST_CASE("checkpoint: max_to_keep 0 keeps every file", "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3, 4, 5}, 0);
    REQUIRE(model_files(dir.str()).size() == 5);
    REQUIRE(read_state_file(dir.str()).all_model_checkpoint_paths.size() == 5);
}

TEST_CASE("checkpoint: files left by an earlier run count towards retention and are deleted beyond the limit",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3}, 0);  // the earlier run kept everything
    SECTION("with the earlier run's state file") {}
    SECTION("without a state file") { fs::remove(dir / "checkpoint"); }
    Saver saver(dir.str(), 2, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.file == "model-3.safetensors");
    saver.save(tiny_state(4), 2000.0);
    REQUIRE(model_files(dir.str()) == Names{"model-3.safetensors", "model-4.safetensors"});
    const CheckpointState st = read_state_file(dir.str());
    REQUIRE(st.model_checkpoint_path == "model-4.safetensors");
    REQUIRE(st.all_model_checkpoint_paths == Names{"model-3.safetensors", "model-4.safetensors"});
}

// ---------------------------------------------------------------------------------------------
// latest_checkpoint

TEST_CASE("checkpoint: latest_checkpoint follows the state file and falls back to the highest step",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3});
    REQUIRE(latest_checkpoint(dir.str()) == dir / "model-3.safetensors");
    SECTION("the state file names an older checkpoint") {
        CheckpointState st = read_state_file(dir.str());
        st.model_checkpoint_path = "model-2.safetensors";
        const std::string text = format_checkpoint_state(st);
        write_bytes(dir / "checkpoint", std::vector<uint8_t>(text.begin(), text.end()));
        REQUIRE(latest_checkpoint(dir.str()) == dir / "model-2.safetensors");
    }
    SECTION("no state file") {
        fs::remove(dir / "checkpoint");
        REQUIRE(latest_checkpoint(dir.str()) == dir / "model-3.safetensors");
    }
    SECTION("a garbage state file") {
        write_bytes(dir / "checkpoint", {'?', '\n'});
        REQUIRE(latest_checkpoint(dir.str()) == dir / "model-3.safetensors");
    }
    SECTION("a state file naming a file that is gone") {
        fs::remove(dir / "model-3.safetensors");
        REQUIRE(latest_checkpoint(dir.str()) == dir / "model-2.safetensors");
    }
}

TEST_CASE("checkpoint: latest_checkpoint throws for a missing or empty directory", "[checkpoint]") {
    TempDir dir;
    REQUIRE_THROWS_WITH(latest_checkpoint(dir / "missing"), Contains(dir / "missing") && Contains("does not exist"));
    REQUIRE_THROWS_WITH(latest_checkpoint(dir.str()), Contains(dir.str()) && Contains("no checkpoint"));
}

// ---------------------------------------------------------------------------------------------
// Write failures

TEST_CASE("checkpoint: a failed write throws, leaves no temporary file and keeps the earlier checkpoint",
          "[checkpoint]") {
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

TEST_CASE("checkpoint: a save that hits the file size limit throws and keeps the earlier checkpoint",
          "[checkpoint]") {
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

TEST_CASE("checkpoint: write_file_atomic replaces a file whole and removes its temporary file on failure",
          "[checkpoint]") {
    TempDir dir;
    write_file_atomic(dir.str(), "f", {1, 2, 3});
    write_file_atomic(dir.str(), "f", {4, 5});
    REQUIRE(read_bytes(dir / "f") == std::vector<uint8_t>{4, 5});
    REQUIRE_THROWS_AS(write_file_atomic(dir.str(), "f", {6, 7, 8, 9}, FaultPoint::write_error), CheckpointError);
    REQUIRE(read_bytes(dir / "f") == std::vector<uint8_t>{4, 5});
    REQUIRE(temp_files(dir.str()).empty());
}

// ---------------------------------------------------------------------------------------------
// The Saver's directory

TEST_CASE("checkpoint: the Saver rejects a checkpoint directory that is a regular file", "[checkpoint]") {
    TempDir dir;
    write_bytes(dir / "file", {1});
    REQUIRE_THROWS_WITH(Saver(dir / "file", 5, 0.0), Contains(dir / "file") && Contains("not a directory"));
}

TEST_CASE("checkpoint: the Saver cannot create a checkpoint directory under a regular file", "[checkpoint]") {
    TempDir dir;
    write_bytes(dir / "file", {1});
    REQUIRE_THROWS_WITH(Saver(dir / "file/sub", 5, 0.0), Contains(dir / "file/sub") && Contains("cannot create"));
}

TEST_CASE("checkpoint: the Saver creates a missing checkpoint directory", "[checkpoint]") {
    TempDir dir;
    Saver saver(dir / "a/b", 5, 0.0);
    REQUIRE(fs::is_directory(dir / "a/b"));
}

// ---------------------------------------------------------------------------------------------
// The directory lock

TEST_CASE("checkpoint: a second lock on a directory fails naming the directory and the holder's pid",
          "[checkpoint]") {
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

TEST_CASE("checkpoint: the lock of a process killed with SIGKILL is released", "[checkpoint]") {
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

// ---------------------------------------------------------------------------------------------
// Kills during a save

namespace {
// A child process restores `path` and saves step 2 with `fault` set; the fault kills it.
void require_save_killed_at(FaultPoint fault, const std::string& path) {
    const int status = run_in_child([&] {
        Saver saver(path, 5, 0.0, fault);
        saver.restore_latest();
        saver.save(tiny_state(2), 1002.0);
        return 0;
    });
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(WTERMSIG(status) == SIGKILL);
}
}  // namespace

TEST_CASE("checkpoint: a save killed before the rename leaves the previous checkpoint to restore",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1});
    const std::vector<uint8_t> model_before = read_bytes(dir / "model-1.safetensors");
    const std::string path = dir.str();
    const FaultPoint fault = GENERATE(FaultPoint::after_temp_write, FaultPoint::before_rename);
    INFO("fault point " << int(fault));
    require_save_killed_at(fault, path);
    REQUIRE(temp_files(path).size() == 1);  // the whole temporary file, never renamed

    Saver saver(path, 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.file == "model-1.safetensors");
    require_same_state(*r.state, tiny_state(1));
    REQUIRE(temp_files(path).empty());
    REQUIRE_FALSE(fs::exists(dir / "model-2.safetensors"));
    REQUIRE(read_bytes(dir / "model-1.safetensors") == model_before);
}

TEST_CASE("checkpoint: a save killed after the rename restores the new checkpoint and lists it",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1});
    const std::string path = dir.str();
    const FaultPoint fault = GENERATE(FaultPoint::after_rename, FaultPoint::before_state_file);
    INFO("fault point " << int(fault));
    require_save_killed_at(fault, path);
    REQUIRE(read_state_file(path).model_checkpoint_path == "model-1.safetensors");  // not yet updated

    Saver saver(path, 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.file == "model-2.safetensors");
    require_same_state(*r.state, tiny_state(2));
    REQUIRE(temp_files(path).empty());
    const CheckpointState st = read_state_file(path);
    REQUIRE(st.model_checkpoint_path == "model-2.safetensors");
    REQUIRE(st.all_model_checkpoint_paths == Names{"model-1.safetensors", "model-2.safetensors"});
}

TEST_CASE("checkpoint: fault_point_from_string reads the known names and rejects an unknown one",
          "[checkpoint]") {
    REQUIRE(fault_point_from_string("") == FaultPoint::none);
    REQUIRE(fault_point_from_string("after_temp_write") == FaultPoint::after_temp_write);
    REQUIRE(fault_point_from_string("write_error") == FaultPoint::write_error);
    REQUIRE_THROWS_AS(fault_point_from_string("after_lunch"), ConfigError);
    REQUIRE_THROWS_WITH(fault_point_from_string("after_lunch"), Contains("after_lunch") && Contains("after_temp_write"));
}

TEST_CASE("checkpoint: a background save writes the bytes a direct save writes, from a copy taken at start",
          "[checkpoint]") {
    TempDir direct_dir, background_dir;
    Saver direct(direct_dir.str(), 5, 0.0);
    direct.save(tiny_state(3), 1003.0);

    Saver saver(background_dir.str(), 5, 0.0);
    BackgroundSaver background(saver);
    CHECK_FALSE(background.wait().has_value());  // nothing started yet
    TrainingState s = tiny_state(3);
    background.start(s, 1003.0);
    s.net.weights[0].setConstant(7.0f);  // training goes on: the save must not see this
    s.global_step = 4;
    const std::optional<BackgroundSaver::Outcome> o = background.wait();
    REQUIRE(o.has_value());
    CHECK(o->error.empty());
    CHECK(o->file == "model-3.safetensors");
    CHECK(o->seconds > 0);
    CHECK(read_bytes(background_dir / "model-3.safetensors") == read_bytes(direct_dir / "model-3.safetensors"));
    CHECK(read_bytes(background_dir / "checkpoint") == read_bytes(direct_dir / "checkpoint"));
    CHECK_FALSE(background.wait().has_value());  // an outcome is reported once
}

TEST_CASE("checkpoint: a failed background save reports why and leaves the earlier checkpoint as it was",
          "[checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1});
    const std::vector<uint8_t> model_before = read_bytes(dir / "model-1.safetensors");
    const std::vector<uint8_t> state_before = read_bytes(dir / "checkpoint");
    Saver failing(dir.str(), 5, 0.0, FaultPoint::write_error);
    failing.restore_latest();
    BackgroundSaver background(failing);
    background.start(tiny_state(2), 1002.0);
    const std::optional<BackgroundSaver::Outcome> o = background.wait();
    REQUIRE(o.has_value());
    CHECK(o->file.empty());
    CHECK_THAT(o->error, Contains("model-2.safetensors") && Contains("No space left on device"));
    CHECK(temp_files(dir.str()).empty());
    CHECK(read_bytes(dir / "model-1.safetensors") == model_before);
    CHECK(read_bytes(dir / "checkpoint") == state_before);
}

TEST_CASE("checkpoint: starting a save waits for the one in flight, so saves land in order", "[checkpoint]") {
    TempDir dir;
    Saver saver(dir.str(), 2, 0.0);
    BackgroundSaver background(saver);
    for (int64_t step : {1, 2, 3}) background.start(tiny_state(step), 1000.0 + double(step));
    const std::optional<BackgroundSaver::Outcome> o = background.wait();
    REQUIRE(o.has_value());
    CHECK(o->file == "model-3.safetensors");
    CHECK(saver.state().model_checkpoint_path == "model-3.safetensors");
    CHECK(list_checkpoint_files(dir.str()) ==
          std::vector<std::pair<int64_t, std::string>>{{2, "model-2.safetensors"}, {3, "model-3.safetensors"}});
}
