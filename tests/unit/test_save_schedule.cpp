// When the trainer saves and what it learns of each save: periods, reports, failures in a row.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "src/train/save_schedule.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::TempDir;
using Catch::Matchers::Contains;

namespace {

TrainingState small_state(int64_t step) {
    TrainConfig c = testutil::small_config("data", "ckpt");
    c.hidden = {8};
    TrainingState st = initial_state(c, 16, 10);
    st.global_step = step;
    st.epoch_loss_sum = 3.0;
    return st;
}

}  // namespace

TEST_CASE("save_schedule: a save is due every N steps and every S seconds since the last one", "[save_schedule]") {
    TempDir tmp;
    Saver saver(tmp / "ckpt", 0, 10000);
    TrainConfig c;
    c.save_every_steps = 5;
    SaveSchedule by_steps(saver, c);
    const auto now = SaveSchedule::Clock::now();
    CHECK(by_steps.due(small_state(10), now));
    CHECK_FALSE(by_steps.due(small_state(11), now));

    c.save_every_steps = 0;
    c.save_every_secs = 30;
    SaveSchedule by_time(saver, c);
    CHECK_FALSE(by_time.due(small_state(11), now + std::chrono::seconds(29)));
    CHECK(by_time.due(small_state(11), now + std::chrono::seconds(31)));

    c.save_every_secs = 0;
    SaveSchedule never(saver, c);
    CHECK_FALSE(never.due(small_state(10), now + std::chrono::hours(100)));
}

TEST_CASE("save_schedule: the S seconds of a periodic save count from the start of the last save", "[save_schedule]") {
    TempDir tmp;
    Saver saver(tmp / "ckpt", 0, 10000);
    TrainConfig c;
    c.save_every_secs = 30;
    SaveSchedule saves(saver, c);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    saves.start(small_state(11), "periodic");
    const auto started = SaveSchedule::Clock::now();
    // 29.9 s after the save started is over 30 s after the schedule was made: not due only if the
    // period restarted with the save.
    CHECK_FALSE(saves.due(small_state(12), started + std::chrono::milliseconds(29900)));
    CHECK(saves.due(small_state(12), started + std::chrono::milliseconds(30100)));
    REQUIRE(saves.settle().has_value());
}

TEST_CASE("save_schedule: a settled save reports its file, step, epoch, reason and the epoch's mean loss",
          "[save_schedule]") {
    TempDir tmp;
    Saver saver(tmp / "ckpt", 0, 10000);
    SaveSchedule saves(saver, TrainConfig{});
    CHECK_FALSE(saves.settle().has_value());  // nothing started
    CHECK_FALSE(saves.start(small_state(13), "periodic").has_value());
    const std::optional<SaveReport> r = saves.settle();
    REQUIRE(r.has_value());
    CHECK(r->outcome.error.empty());
    CHECK(r->outcome.file == "model-13.safetensors");
    CHECK(r->step == 13);
    CHECK(r->epoch == 1.3);
    CHECK(r->why == "periodic");
    CHECK(r->loss == 1.0);  // 3.0 over the 3 steps into epoch 2
    CHECK(r->failed_in_a_row == 0);
    CHECK(saves.last_checkpoint() == "model-13.safetensors");
    CHECK(std::filesystem::exists(tmp / "ckpt/model-13.safetensors"));
    CHECK_FALSE(saves.settle().has_value());  // reported once
}

TEST_CASE("save_schedule: starting a save settles the one in flight and returns its report", "[save_schedule]") {
    TempDir tmp;
    Saver saver(tmp / "ckpt", 0, 10000);
    SaveSchedule saves(saver, TrainConfig{});
    saves.start(small_state(5), "periodic");
    const std::optional<SaveReport> first = saves.start(small_state(10), "end of epoch");
    REQUIRE(first.has_value());
    CHECK(first->step == 5);
    const std::optional<SaveReport> second = saves.settle();
    REQUIRE(second.has_value());
    CHECK(second->step == 10);
    CHECK(second->why == "end of epoch");
    CHECK(saves.last_checkpoint() == "model-10.safetensors");
}

TEST_CASE("save_schedule: failed saves are counted in a row and the third stops the run naming the directory",
          "[save_schedule]") {
    TempDir tmp;
    Saver saver(tmp / "ckpt", 0, 10000, FaultPoint::write_error);
    SaveSchedule saves(saver, TrainConfig{});
    CHECK_FALSE(saves.start(small_state(1), "periodic").has_value());
    std::optional<SaveReport> r = saves.start(small_state(2), "periodic");
    REQUIRE(r.has_value());
    CHECK_THAT(r->outcome.error, Contains("model-1.safetensors") && Contains("No space left on device"));
    CHECK(r->outcome.file.empty());
    CHECK(r->step == 1);
    CHECK(r->failed_in_a_row == 1);
    r = saves.start(small_state(3), "periodic");
    REQUIRE(r.has_value());
    CHECK(r->failed_in_a_row == 2);
    REQUIRE_THROWS_AS(saves.settle(), CheckpointError);
    CHECK(saves.last_checkpoint().empty());
    CHECK(list_checkpoint_files(tmp / "ckpt").empty());
}

TEST_CASE("save_schedule: the message of the last failed save names the directory and says what is intact",
          "[save_schedule]") {
    TempDir tmp;
    Saver saver(tmp / "ckpt", 0, 10000, FaultPoint::write_error);
    SaveSchedule saves(saver, TrainConfig{});
    saves.start(small_state(1), "periodic");
    saves.start(small_state(2), "periodic");
    saves.start(small_state(3), "periodic");
    REQUIRE_THROWS_WITH(saves.settle(), Contains("3 saves failed in a row") && Contains(tmp / "ckpt") &&
                                            Contains("intact") && Contains("rerun the same command"));
}

TEST_CASE("save_schedule: a save that lands after failed ones resets the count, so two more failures do not stop "
          "the run",
          "[save_schedule]") {
    TempDir tmp;
    const std::string dir = tmp / "ckpt";
    Saver saver(dir, 0, 10000);
    SaveSchedule saves(saver, TrainConfig{});
    // One Saver throughout: a directory where a save's file should go makes that save fail at its
    // rename (the file written, then refused), as a full disk would, and the next save is free to land.
    const auto blocked = [&](int64_t step) {
        std::filesystem::create_directories(std::filesystem::path(dir) / checkpoint_file_name(step) / "in_the_way");
    };
    const auto settled = [&](int64_t step) {
        saves.start(small_state(step), "periodic");
        const std::optional<SaveReport> r = saves.settle();
        REQUIRE(r.has_value());
        REQUIRE(r->step == step);
        return *r;
    };
    blocked(1);
    blocked(2);
    CHECK(settled(1).failed_in_a_row == 1);
    const SaveReport second = settled(2);
    CHECK(second.failed_in_a_row == 2);
    CHECK_THAT(second.outcome.error, Contains(checkpoint_file_name(2)));
    CHECK(saves.last_checkpoint().empty());

    const SaveReport landed = settled(3);
    CHECK(landed.outcome.error.empty());
    CHECK(landed.failed_in_a_row == 0);
    CHECK(saves.last_checkpoint() == "model-3.safetensors");

    // Without the reset the next failure would be the third in a row and throw.
    blocked(4);
    blocked(5);
    CHECK(settled(4).failed_in_a_row == 1);
    CHECK(settled(5).failed_in_a_row == 2);
    CHECK(saves.last_checkpoint() == "model-3.safetensors");
    REQUIRE(list_checkpoint_files(dir).size() == 1);
    CHECK(list_checkpoint_files(dir).front().second == "model-3.safetensors");
}
