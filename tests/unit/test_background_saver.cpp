// Tests of the background saver: it writes the bytes a direct save writes from a copy taken at start,
// reports a failure without touching earlier checkpoints, and lands saves in order.
#include <catch2/catch.hpp>

#include "tests/unit/checkpoint_fixture.hpp"

using namespace ckpttest;  // mnist, Contains, TempDir, read_bytes, write_bytes, fs

TEST_CASE("background_saver: a background save writes the bytes a direct save writes, from a copy taken at start",
          "[background_saver]") {
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

TEST_CASE("background_saver: a failed background save reports why and leaves the earlier checkpoint as it was",
          "[background_saver]") {
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

TEST_CASE("background_saver: starting a save waits for the one in flight, so saves land in order",
          "[background_saver]") {
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
