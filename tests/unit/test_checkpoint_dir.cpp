// Tests of the checkpoint directory: restore picks the newest good file and moves damaged ones aside,
// the state file is written and rebuilt, retention keeps what max_to_keep says, the Saver manages its
// directory, and a save killed at each point of its sequence leaves a directory that still restores.
#include <catch2/catch.hpp>

#include "tests/unit/checkpoint_fixture.hpp"

using namespace ckpttest;  // mnist, Contains, TempDir, read_bytes, write_bytes, fs

// Restore

TEST_CASE("checkpoint_dir: restore picks the checkpoint with the highest step", "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {7, 21, 14});
    Saver saver(dir.str(), 0, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.state);
    REQUIRE(r.file == "model-21.safetensors");
    require_same_state(*r.state, tiny_state(21));
    REQUIRE(saver.state().model_checkpoint_path == "model-21.safetensors");
}

TEST_CASE("checkpoint_dir: a truncated newest file is moved aside and the previous one restored", "[checkpoint_dir]") {
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

TEST_CASE("checkpoint_dir: a second damaged copy of the same name does not overwrite the first one moved aside",
          "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2});
    write_bytes(dir / "model-2.safetensors.damaged", {1, 2, 3});
    write_bytes(dir / "model-2.safetensors", {4, 5, 6});
    Saver saver(dir.str(), 0, 0.0);
    REQUIRE(saver.restore_latest().file == "model-1.safetensors");
    REQUIRE(read_bytes(dir / "model-2.safetensors.damaged") == std::vector<uint8_t>{1, 2, 3});
    REQUIRE(read_bytes(dir / "model-2.safetensors.damaged.1") == std::vector<uint8_t>{4, 5, 6});
}

TEST_CASE("checkpoint_dir: restore in an empty directory gives no state and writes nothing", "[checkpoint_dir]") {
    TempDir dir;
    Saver saver(dir.str(), 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE_FALSE(r.state);
    REQUIRE(r.file.empty());
    REQUIRE(fs::is_empty(dir.path));
}

TEST_CASE("checkpoint_dir: restore removes the temporary files of interrupted saves and nothing else",
          "[checkpoint_dir]") {
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

// The state file

TEST_CASE("checkpoint_dir: the state file lists the checkpoints oldest first by relative name, newest as current",
          "[checkpoint_dir]") {
    TempDir dir;
    Saver saver = save_steps(dir.str(), {5, 10, 15});
    const CheckpointState st = read_state_file(dir.str());
    REQUIRE(st.model_checkpoint_path == "model-15.safetensors");
    REQUIRE(st.all_model_checkpoint_paths == Names{"model-5.safetensors", "model-10.safetensors", "model-15.safetensors"});
    REQUIRE(st.all_model_checkpoint_timestamps == std::vector<double>{1005.0, 1010.0, 1015.0});
    REQUIRE(saver.state().all_model_checkpoint_paths == st.all_model_checkpoint_paths);
}

TEST_CASE("checkpoint_dir: a deleted or garbage state file is rebuilt from the files present", "[checkpoint_dir]") {
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

TEST_CASE("checkpoint_dir: a state file that matches the files present is left as it is", "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {5, 10});
    const std::vector<uint8_t> before = read_bytes(dir / "checkpoint");
    Saver saver(dir.str(), 5, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.warnings.empty());
    REQUIRE(read_bytes(dir / "checkpoint") == before);
}

// Retention

TEST_CASE("checkpoint_dir: max_to_keep 2 keeps the newest two files on disk", "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3, 4}, 2);
    REQUIRE(model_files(dir.str()) == Names{"model-3.safetensors", "model-4.safetensors"});
    REQUIRE(read_state_file(dir.str()).all_model_checkpoint_paths == Names{"model-3.safetensors", "model-4.safetensors"});
}

TEST_CASE("checkpoint_dir: max_to_keep 0 keeps every file", "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3, 4, 5}, 0);
    REQUIRE(model_files(dir.str()).size() == 5);
    REQUIRE(read_state_file(dir.str()).all_model_checkpoint_paths.size() == 5);
}

TEST_CASE("checkpoint_dir: files left by an earlier run count towards retention and are deleted beyond the limit",
          "[checkpoint_dir]") {
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

// latest_checkpoint

TEST_CASE("checkpoint_dir: latest_checkpoint is the newest valid file whatever the state file says",
          "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3});
    REQUIRE(latest_checkpoint(dir.str()) == dir / "model-3.safetensors");
    SECTION("the state file names an older checkpoint: the newest valid file all the same (latest_checkpoint.hpp)") {
        CheckpointState st = read_state_file(dir.str());
        st.model_checkpoint_path = "model-2.safetensors";
        const std::string text = format_checkpoint_state(st);
        write_bytes(dir / "checkpoint", std::vector<uint8_t>(text.begin(), text.end()));
        REQUIRE(latest_checkpoint(dir.str()) == dir / "model-3.safetensors");
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

TEST_CASE("checkpoint_dir: latest_checkpoint throws for a missing or empty directory", "[checkpoint_dir]") {
    TempDir dir;
    REQUIRE_THROWS_WITH(latest_checkpoint(dir / "missing"), Contains(dir / "missing") && Contains("does not exist"));
    REQUIRE_THROWS_WITH(latest_checkpoint(dir.str()), Contains(dir.str()) && Contains("no checkpoint"));
}

// The Saver's directory

TEST_CASE("checkpoint_dir: the Saver rejects a checkpoint directory that is a regular file", "[checkpoint_dir]") {
    TempDir dir;
    write_bytes(dir / "file", {1});
    REQUIRE_THROWS_WITH(Saver(dir / "file", 5, 0.0), Contains(dir / "file") && Contains("not a directory"));
}

TEST_CASE("checkpoint_dir: the Saver cannot create a checkpoint directory under a regular file", "[checkpoint_dir]") {
    TempDir dir;
    write_bytes(dir / "file", {1});
    REQUIRE_THROWS_WITH(Saver(dir / "file/sub", 5, 0.0), Contains(dir / "file/sub") && Contains("cannot create"));
}

TEST_CASE("checkpoint_dir: the Saver creates a missing checkpoint directory", "[checkpoint_dir]") {
    TempDir dir;
    Saver saver(dir / "a/b", 5, 0.0);
    REQUIRE(fs::is_directory(dir / "a/b"));
}

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

TEST_CASE("checkpoint_dir: a save killed before the rename leaves the previous checkpoint to restore",
          "[checkpoint_dir]") {
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

TEST_CASE("checkpoint_dir: a save killed after the rename restores the new checkpoint and lists it",
          "[checkpoint_dir]") {
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

// Issue 12: a crafted header (JSON nested a million levels deep) crashed every program that read it;
// in a checkpoint directory it made ./train crash on every start. Now it is a damaged file like any other.
TEST_CASE("checkpoint_dir: a newest file with a deeply nested header is moved aside and the previous one restored",
          "[checkpoint_dir]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2});
    const std::string newest = dir / "model-2.safetensors";
    const std::string header = "{\"w_h\":" + std::string(1000000, '[') + std::string(1000000, ']') + "}";
    std::vector<uint8_t> bytes;
    for (int i = 0; i < 8; ++i) bytes.push_back(uint8_t(uint64_t(header.size()) >> (8 * i)));
    bytes.insert(bytes.end(), header.begin(), header.end());
    write_bytes(newest, bytes);

    Saver saver(dir.str(), 0, 0.0);
    const RestoreResult r = saver.restore_latest();
    REQUIRE(r.state);
    REQUIRE(r.file == "model-1.safetensors");
    REQUIRE_FALSE(fs::exists(newest));
    REQUIRE(read_bytes(newest + ".damaged") == bytes);
    bool warned = false;
    for (const std::string& w : r.warnings) warned = warned || w.find("nested deeper than 64 levels") != std::string::npos;
    REQUIRE(warned);
}
