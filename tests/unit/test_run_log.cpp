// What a run tells the user and metrics.jsonl: one method per event.
#include <catch2/catch.hpp>

#include <filesystem>

#include "src/train/metrics.hpp"
#include "src/train/run_log.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::CapturedLog;
using testutil::TempDir;
using Catch::Matchers::Contains;

namespace {

TrainConfig config_in(const TempDir& tmp) {
    TrainConfig c = testutil::small_config(tmp / "data", tmp / "ckpt");
    std::filesystem::create_directories(c.ckpt_dir);
    return c;
}

TrainingState at_step(int64_t step, double loss_sum) {
    TrainingState st;
    st.global_step = step;
    st.steps_per_epoch = 10;
    st.epoch_loss_sum = loss_sum;
    return st;
}

SaveReport landed(int64_t step) {
    SaveReport r;
    r.why = "periodic";
    r.step = step;
    r.epoch = double(step) / 10.0;
    r.loss = 0.5;
    r.outcome.file = checkpoint_file_name(step);
    return r;
}

}  // namespace

TEST_CASE("run_log: a new run records a start event", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    const TrainConfig c = config_in(tmp);
    RunLog log(c, {});
    log.begin(at_step(0, 0), "");
    const auto records = read_metrics(tmp / "ckpt/metrics.jsonl");
    REQUIRE(records.size() == 1);
    CHECK(records[0]["event"] == "start");
    CHECK(records[0]["step"] == 0);
    CHECK(records[0]["dropped"] == 0);
    CHECK(records[0].contains("time"));
}

TEST_CASE("run_log: a new run drops the records of an earlier run that saved nothing past step 0", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    const TrainConfig c = config_in(tmp);
    const std::string path = tmp / "ckpt/metrics.jsonl";
    for (int64_t s : {5, 10}) append_metrics(path, {{"event", "save"}, {"step", s}});
    RunLog log(c, {});
    log.begin(at_step(0, 0), "");
    const auto records = read_metrics(path);
    REQUIRE(records.size() == 1);
    CHECK(records[0]["event"] == "start");
    CHECK(records[0]["dropped"] == 2);
}

TEST_CASE("run_log: a resume drops the records past its step and records the file and how many went", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    const TrainConfig c = config_in(tmp);
    const std::string path = tmp / "ckpt/metrics.jsonl";
    for (int64_t s : {10, 20, 30}) append_metrics(path, {{"event", "epoch"}, {"step", s}});
    RunLog log(c, {});
    log.begin(at_step(20, 0), "model-20.safetensors");
    const auto records = read_metrics(path);
    REQUIRE(records.size() == 3);
    CHECK(records[1]["step"] == 20);
    CHECK(records[2]["event"] == "resume");
    CHECK(records[2]["file"] == "model-20.safetensors");
    CHECK(records[2]["dropped"] == 1);
    CHECK(records[2]["epoch"] == 2.0);
    CHECK_THAT(captured.str(), Contains("dropped 1 record(s) past global_step 20"));
}

TEST_CASE("run_log: a save that landed is logged and recorded with its step, epoch, file, reason and loss",
          "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    RunLog log(config_in(tmp), {});
    log.save(landed(15));
    log.save(std::nullopt);  // nothing settled: nothing said
    const auto records = read_metrics(tmp / "ckpt/metrics.jsonl");
    REQUIRE(records.size() == 1);
    CHECK(records[0]["event"] == "save");
    CHECK(records[0]["step"] == 15);
    CHECK(records[0]["epoch"] == 1.5);
    CHECK(records[0]["file"] == "model-15.safetensors");
    CHECK(records[0]["reason"] == "periodic");
    CHECK(records[0]["loss"] == 0.5);
    CHECK_THAT(captured.str(), Contains("saved ") && Contains("model-15.safetensors (periodic"));
}

TEST_CASE("run_log: a failed save is a warning with its reason and no record", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    RunLog log(config_in(tmp), {});
    SaveReport failed = landed(15);
    failed.outcome.file.clear();
    failed.outcome.error = "cannot write 'x': No space left on device";
    failed.failed_in_a_row = 2;
    log.save(failed);
    CHECK(read_metrics(tmp / "ckpt/metrics.jsonl").empty());
    CHECK_THAT(captured.str(), Contains("warning") && Contains("2 of 3 allowed in a row") &&
                                        Contains("No space left on device"));
}

TEST_CASE("run_log: an epoch end logs its line and records the epoch mean loss and both accuracies", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    RunLog log(config_in(tmp), {});
    EvalResult validation, test;
    validation.count = 100;
    validation.accuracy = 0.75;
    test.count = 200;
    test.accuracy = 0.5;
    log.step(at_step(20, 4.0), 0.01);
    log.epoch_end(at_step(20, 4.0), validation, test);
    const auto records = read_metrics(tmp / "ckpt/metrics.jsonl");
    REQUIRE(records.size() == 1);
    CHECK(records[0]["event"] == "epoch");
    CHECK(records[0]["epoch"] == 2);
    CHECK(records[0]["loss"] == 0.4);
    CHECK(records[0]["validation_accuracy"] == 0.75);
    CHECK(records[0]["test_accuracy"] == 0.5);
    CHECK_THAT(captured.str(), Contains("epoch 2 global_step 20 loss 0.4000 validation_accuracy 0.7500 "
                                             "test_accuracy 0.5000"));
}

TEST_CASE("run_log: without a validation set the epoch records null and prints n/a", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    RunLog log(config_in(tmp), {});
    EvalResult none, test;
    test.count = 10;
    log.epoch_end(at_step(10, 1.0), none, test);
    const auto records = read_metrics(tmp / "ckpt/metrics.jsonl");
    REQUIRE(records.size() == 1);
    CHECK(records[0]["validation_accuracy"].is_null());
    CHECK_THAT(captured.str(), Contains("validation_accuracy n/a"));
}

TEST_CASE("run_log: a metrics file that cannot be written is a warning, not an error", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    const TrainConfig c = config_in(tmp);
    std::filesystem::create_directories(tmp / "ckpt/metrics.jsonl");  // a directory where the file should be
    RunLog log(c, {});
    REQUIRE_NOTHROW(log.begin(at_step(0, 0), ""));
    REQUIRE_NOTHROW(log.save(landed(5)));
    CHECK_THAT(captured.str(), Contains("metrics.jsonl") && Contains("training goes on"));
}

TEST_CASE("run_log: the first step of the process is timed and a stop request is announced", "[run_log]") {
    CapturedLog captured;
    TempDir tmp;
    RunLog log(config_in(tmp), {});
    log.step(at_step(1, 1.0), 0.01);
    log.step(at_step(2, 2.0), 0.01);
    log.stop(15, 2);
    const std::string text = captured.str();
    CHECK_THAT(text, Contains("first step done"));
    CHECK(text.find("first step done") == text.rfind("first step done"));
    CHECK_THAT(text, Contains("signal 15 received: saving at global_step 2 and stopping"));
}
