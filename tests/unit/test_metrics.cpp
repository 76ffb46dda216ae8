// The metrics file: appending records, dropping those past a restored step, and a training run
// resumed from an earlier checkpoint whose curve has no step twice and records the resume.
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/train/metrics.hpp"
#include "src/train/trainer.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::run;
using testutil::TempDir;

namespace {

// Each (event, step) pair appears once, and steps never go back.
void require_consistent(const std::vector<nlohmann::json>& records) {
    std::set<std::pair<std::string, int64_t>> seen;
    int64_t last = -1;
    for (const auto& r : records) {
        INFO(r.dump());
        const int64_t step = r.at("step").get<int64_t>();
        REQUIRE(seen.insert({r.at("event").get<std::string>(), step}).second);
        REQUIRE(step >= last);
        last = step;
    }
}

}  // namespace

TEST_CASE("metrics: records past a step are dropped and a torn last line with them", "[metrics]") {
    TempDir tmp;
    const std::string path = tmp / "metrics.jsonl";
    CHECK(keep_metrics_until(path, 10) == 0);  // no file: nothing to do
    for (int64_t s : {5, 10, 15, 20}) append_metrics(path, {{"event", "epoch"}, {"step", s}});
    {
        std::ofstream f(path, std::ios::app);
        f << "{\"event\":\"ep";  // a line cut short by a crash
    }
    CHECK(read_metrics(path).size() == 4);
    CHECK(keep_metrics_until(path, 10) == 3);
    const auto records = read_metrics(path);
    REQUIRE(records.size() == 2);
    CHECK(records[1]["step"] == 10);
    CHECK(keep_metrics_until(path, 10) == 0);
}

TEST_CASE("metrics: a run resumed from an earlier checkpoint keeps each step once and records the resume", "[metrics]") {
    testutil::TrainingFixture f;
    const TempDir& tmp = f.tmp;
    TrainConfig c = f.config;
    c.epochs = 2;
    c.save_every_steps = 20;
    c.max_to_keep = 0;
    run(c);
    const std::string path = tmp / "ckpt/metrics.jsonl";
    const auto first = read_metrics(path);
    require_consistent(first);
    REQUIRE(first.front()["event"] == "start");
    CHECK(std::count_if(first.begin(), first.end(), [](const auto& r) { return r["event"] == "epoch"; }) == 2);
    CHECK(std::count_if(first.begin(), first.end(), [](const auto& r) { return r["event"] == "save"; }) == 8);
    const auto& epoch1 = *std::find_if(first.begin(), first.end(), [](const auto& r) { return r["event"] == "epoch"; });
    for (const char* key : {"step", "epoch", "loss", "validation_accuracy", "test_accuracy", "seconds", "images_per_s", "time"})
        CHECK(epoch1.contains(key));

    // As if the run had died right after global_step 62: the later checkpoints never made it to disk.
    for (const auto& [step, name] : list_checkpoint_files(c.ckpt_dir))
        if (step > 62) std::filesystem::remove(tmp / ("ckpt/" + name));
    std::filesystem::remove(tmp / "ckpt/checkpoint");
    run(c);
    const auto second = read_metrics(path);
    require_consistent(second);
    const auto resume = std::find_if(second.begin(), second.end(), [](const auto& r) { return r["event"] == "resume"; });
    REQUIRE(resume != second.end());
    CHECK((*resume)["step"] == 62);
    CHECK((*resume)["file"] == "model-62.safetensors");
    CHECK((*resume)["dropped"].get<int64_t>() > 0);
    CHECK(std::count_if(second.begin(), second.end(), [](const auto& r) { return r["event"] == "epoch"; }) == 2);
    CHECK(second.back()["step"] == 124);

    // A stop signal saves mid-epoch; the rerun resumes from exactly that step.
    c.epochs = 3;
    const TrainOutcome stopped = run(c, 15);
    CHECK(stopped.global_step == 125);
    run(c);
    const auto third = read_metrics(path);
    require_consistent(third);
    CHECK(std::count_if(third.begin(), third.end(),
                        [](const auto& r) { return r["event"] == "resume" && r["step"] == 125; }) == 1);
}
