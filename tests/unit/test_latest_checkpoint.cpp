// Tests of the one rule for "the latest checkpoint" of a directory: the newest valid file in the
// directory itself; a state file naming anything else gets a warning naming the file chosen; a
// reader racing a trainer (files deleted or replaced between the listing and the open, played here
// through the test hook, not with timing) still reads a whole, valid checkpoint.
#include <catch2/catch.hpp>

#include "tests/unit/checkpoint_fixture.hpp"

using namespace ckpttest;  // mnist, Contains, TempDir, read_bytes, write_bytes, fs

namespace {

void write_state_naming(const std::string& dir, const std::string& named) {
    CheckpointState st = read_state_file(dir);
    st.model_checkpoint_path = named;
    const std::string text = format_checkpoint_state(st);
    write_bytes(dir + "/checkpoint", std::vector<uint8_t>(text.begin(), text.end()));
}

std::string all(const std::vector<std::string>& lines) {
    std::string out;
    for (const std::string& l : lines) out += l + "\n";
    return out;
}

struct HookReset {
    ~HookReset() { set_latest_checkpoint_hook({}); }
};

}  // namespace

TEST_CASE("latest_checkpoint: the newest valid file is chosen and a state file naming it gives no warning",
          "[latest_checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3});
    const LatestSearch found = find_latest_checkpoint(dir.str());
    REQUIRE(found.latest);
    REQUIRE(found.latest->file == "model-3.safetensors");
    REQUIRE(found.latest->path == dir / "model-3.safetensors");
    require_same_state(found.latest->state, tiny_state(3));
    REQUIRE(found.warnings.empty());
}

TEST_CASE("latest_checkpoint: a state file naming a file outside the directory gets a warning and the local newest "
          "is chosen", "[latest_checkpoint]") {
    TempDir root;
    save_steps(root / "other_run", {429, 858});
    save_steps(root / "run", {429});
    write_state_naming(root / "run", "../other_run/model-858.safetensors");
    const LatestSearch found = find_latest_checkpoint(root / "run", 3);
    REQUIRE(found.latest);
    REQUIRE(found.latest->path == root / "run/model-429.safetensors");
    REQUIRE_THAT(all(found.warnings), Contains("names '../other_run/model-858.safetensors', which is not a checkpoint "
                                               "file in '" + root / "run" + "'") &&
                                          Contains("using 'model-429.safetensors'"));
}

TEST_CASE("latest_checkpoint: a state file naming an older or a missing file or an unreadable one gets a warning "
          "naming the newest valid file instead", "[latest_checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2, 3});
    SECTION("an older checkpoint") {
        write_state_naming(dir.str(), "model-2.safetensors");
        const LatestSearch found = find_latest_checkpoint(dir.str(), 2);
        REQUIRE(found.latest->file == "model-3.safetensors");
        REQUIRE_THAT(all(found.warnings), Contains("names 'model-2.safetensors', but a newer valid checkpoint exists; "
                                                   "using 'model-3.safetensors'"));
    }
    SECTION("a file that does not exist") {
        write_state_naming(dir.str(), "model-9.safetensors");
        const LatestSearch found = find_latest_checkpoint(dir.str(), 2);
        REQUIRE(found.latest->file == "model-3.safetensors");
        REQUIRE_THAT(all(found.warnings), Contains("names 'model-9.safetensors', which does not exist"));
    }
    SECTION("a garbage state file") {
        write_bytes(dir / "checkpoint", {'?', '\n'});
        const LatestSearch found = find_latest_checkpoint(dir.str(), 2);
        REQUIRE(found.latest->file == "model-3.safetensors");
        REQUIRE_THAT(all(found.warnings), Contains(dir / "checkpoint") && Contains("using 'model-3.safetensors'"));
    }
    SECTION("no state file: no warning") {
        fs::remove(dir / "checkpoint");
        const LatestSearch found = find_latest_checkpoint(dir.str(), 2);
        REQUIRE(found.latest->file == "model-3.safetensors");
        REQUIRE(found.warnings.empty());
    }
}

TEST_CASE("latest_checkpoint: a damaged newest file is skipped with a warning and left as it is",
          "[latest_checkpoint]") {
    TempDir dir;
    save_steps(dir.str(), {1, 2});
    std::vector<uint8_t> bytes = read_bytes(dir / "model-2.safetensors");
    bytes.resize(bytes.size() - 5);
    write_bytes(dir / "model-2.safetensors", bytes);
    const LatestSearch found = find_latest_checkpoint(dir.str(), 2);
    REQUIRE(found.latest->file == "model-1.safetensors");
    REQUIRE(found.damaged == Names{"model-2.safetensors"});
    REQUIRE_THAT(all(found.warnings), Contains(dir / "model-2.safetensors") &&
                                          Contains("names 'model-2.safetensors', which is not a valid checkpoint"));
    REQUIRE(read_bytes(dir / "model-2.safetensors") == bytes);  // a reader changes nothing
}

TEST_CASE("latest_checkpoint: a missing directory or one without a valid checkpoint throws naming it",
          "[latest_checkpoint]") {
    TempDir dir;
    std::vector<std::string> warnings;
    REQUIRE_THROWS_WITH(read_latest_checkpoint(dir / "missing", warnings), Contains(dir / "missing") &&
                                                                                Contains("does not exist"));
    REQUIRE_FALSE(find_latest_checkpoint(dir.str()).latest);
    REQUIRE_THROWS_WITH(read_latest_checkpoint(dir.str(), warnings), Contains(dir.str()) &&
                                                                         Contains("no checkpoint"));
}

TEST_CASE("latest_checkpoint: a file deleted by the trainer between the listing and the open is not a failure: the "
          "reader looks again and reads the newer one", "[latest_checkpoint]") {
    HookReset reset;
    TempDir dir;
    Saver saver = save_steps(dir.str(), {5}, 1);
    int opens = 0;
    // The trainer's part, at the worst moment: the reader has listed model-5 and is about to open it
    // when model-10 lands, the state file names it and retention deletes model-5.
    set_latest_checkpoint_hook([&](const std::string& path) {
        if (opens++ == 0 && path == dir / "model-5.safetensors") saver.save(tiny_state(10), 1010.0);
    });
    std::vector<std::string> warnings;
    const LatestCheckpoint latest = read_latest_checkpoint(dir.str(), warnings);
    REQUIRE_FALSE(fs::exists(dir / "model-5.safetensors"));
    REQUIRE(latest.file == "model-10.safetensors");
    require_same_state(latest.state, tiny_state(10));
    REQUIRE(warnings.empty());
    REQUIRE(opens == 2);
}

TEST_CASE("latest_checkpoint: a reader that chose the newest file just before the state file named it waits for "
          "the state file instead of warning", "[latest_checkpoint]") {
    HookReset reset;
    TempDir dir;
    save_steps(dir.str(), {5, 10});
    write_state_naming(dir.str(), "model-5.safetensors");  // the trainer is between the two renames
    int opens = 0;
    set_latest_checkpoint_hook([&](const std::string&) {
        if (++opens == 2) write_state_naming(dir.str(), "model-10.safetensors");  // ...and now it is done
    });
    const LatestSearch found = find_latest_checkpoint(dir.str());
    REQUIRE(found.latest->file == "model-10.safetensors");
    REQUIRE(found.warnings.empty());
}

TEST_CASE("latest_checkpoint: every listed file gone at its open round after round means nothing found and no error",
          "[latest_checkpoint]") {
    HookReset reset;
    TempDir dir;
    save_steps(dir.str(), {1, 2});
    fs::remove(dir / "checkpoint");
    int opens = 0;
    set_latest_checkpoint_hook([&](const std::string& path) {
        ++opens;
        fs::remove(path);
    });
    const LatestSearch found = find_latest_checkpoint(dir.str(), 3);
    REQUIRE_FALSE(found.latest);
    REQUIRE(opens == 2);  // model-2 (round 1: gone, look again), model-1 (round 2: gone), round 3: nothing listed
}

TEST_CASE("latest_checkpoint: a state file that changes every round, naming newer files already gone, is a trainer "
          "saving faster than the reader reads: the newest valid file is read without a warning",
          "[latest_checkpoint]") {
    HookReset reset;
    TempDir dir;
    save_steps(dir.str(), {5, 10});
    int opens = 0;
    // Between each round's open and its look at the state file, the trainer (--max_to_keep 1) has
    // saved twice: the state file names a newer file that retention has deleted already.
    set_latest_checkpoint_hook([&](const std::string&) {
        write_state_naming(dir.str(), "model-" + std::to_string(1000 + 5 * ++opens) + ".safetensors");
    });
    const LatestSearch found = find_latest_checkpoint(dir.str(), 4);
    REQUIRE(found.latest->file == "model-10.safetensors");
    REQUIRE(found.warnings.empty());
    REQUIRE(opens == 4);
    SECTION("the same missing file named round after round still gets its warning") {
        set_latest_checkpoint_hook({});
        write_state_naming(dir.str(), "model-1005.safetensors");
        const LatestSearch again = find_latest_checkpoint(dir.str(), 4);
        REQUIRE(again.latest->file == "model-10.safetensors");
        REQUIRE_THAT(all(again.warnings), Contains("names 'model-1005.safetensors', which does not exist"));
    }
}
