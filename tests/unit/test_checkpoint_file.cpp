// Tests of the checkpoint file: a saved state reads back bit for bit from a valid safetensors file,
// and every kind of damage (truncation, flipped bits, edited metadata, wrong shapes, a renamed file,
// a foreign file) is rejected with a message naming the file and the problem.
#include <catch2/catch.hpp>

#include "tests/unit/checkpoint_fixture.hpp"

using namespace ckpttest;  // mnist, Contains, TempDir, read_bytes, write_bytes, fs

// The file itself

TEST_CASE("checkpoint_file: a saved state reads back with identical weights, slots, step, loss sum and config",
          "[checkpoint_file]") {
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

TEST_CASE("checkpoint_file: file names carry the step and only canonical names are read back", "[checkpoint_file]") {
    REQUIRE(checkpoint_file_name(120) == "model-120.safetensors");
    REQUIRE(step_from_file_name("model-120.safetensors") == 120);
    REQUIRE(step_from_file_name("model-0.safetensors") == 0);
    REQUIRE_FALSE(step_from_file_name("model-012.safetensors"));
    REQUIRE_FALSE(step_from_file_name("model-.safetensors"));
    REQUIRE_FALSE(step_from_file_name("model-12.safetensors.damaged"));
    REQUIRE_FALSE(step_from_file_name(".model-12.safetensors.tmp-99"));
}

TEST_CASE("checkpoint_file: the written file is valid safetensors with the tensors and metadata a reader expects",
          "[checkpoint_file]") {
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

// Damaged files

TEST_CASE("checkpoint_file: a truncated file is rejected with a message naming the file", "[checkpoint_file]") {
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

TEST_CASE("checkpoint_file: a flipped bit in tensor data is a checksum mismatch naming the tensor",
          "[checkpoint_file]") {
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

TEST_CASE("checkpoint_file: a flipped byte in the JSON header is rejected", "[checkpoint_file]") {
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

TEST_CASE("checkpoint_file: an edited metadata value is a metadata checksum mismatch", "[checkpoint_file]") {
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

TEST_CASE("checkpoint_file: weights whose shape disagrees with the configuration are rejected naming the tensor",
          "[checkpoint_file]") {
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
                            Contains(path) && Contains("tensor 'w_h2/RMSProp' should be F32 [5, 4], found F32 [4, 5]"));
    }
}

TEST_CASE("checkpoint_file: a file whose name disagrees with its global_step is rejected", "[checkpoint_file]") {
    TempDir dir;
    save_steps(dir.str(), {3});
    fs::rename(dir / "model-3.safetensors", dir / "model-4.safetensors");
    REQUIRE_THROWS_WITH(read_checkpoint(dir / "model-4.safetensors"),
                        Contains(dir / "model-4.safetensors") &&
                            Contains("the file name says step 4 but global_step is 3"));
}

TEST_CASE("checkpoint_file: a file that is not a checkpoint of this program is rejected", "[checkpoint_file]") {
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

TEST_CASE("checkpoint_file: a deeply nested tensor_crc32 entry and long metadata values are refused in short messages",
          "[checkpoint_file]") {
    TensorFile f = to_tensor_file(tiny_state(3));
    f.metadata["tensor_crc32"] = std::string(1000000, '{');
    REQUIRE_THROWS_WITH(verify_tensor_crc32(f, "f.safetensors"),
                        Contains("f.safetensors") && Contains("nested deeper than 64 levels"));
    f = to_tensor_file(tiny_state(3));
    f.metadata["format"] = std::string(100000, 'x') + "\x1b";
    try {
        from_tensor_file(f, "f.safetensors");
        FAIL("no error");
    } catch (const CheckpointError& e) {
        CHECK(std::string(e.what()).size() < 300);
        CHECK_THAT(e.what(), Contains("metadata 'format'") && Contains("(100001 bytes)"));
    }
}
