// End-to-end training on a small synthetic data set: learning works, and a run interrupted at any
// point (epoch end, mid-epoch save, stop signal, other thread count) and resumed ends with tensors
// byte-identical to an uninterrupted run.
#include <catch2/catch.hpp>

#include <spdlog/spdlog.h>

#include <cstring>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/model/evaluate.hpp"
#include "src/train/trainer.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using testutil::run;
using testutil::TempDir;

namespace {

// Every tensor of the newest checkpoint in dir, bytes.
std::vector<Tensor> final_tensors(const std::string& dir) {
    const std::vector<uint8_t> bytes = testutil::read_bytes(latest_checkpoint(dir));
    return decode_safetensors(bytes, dir).tensors;
}

void require_identical(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        INFO("tensor " << a[i].name);
        REQUIRE(a[i].name == b[i].name);
        REQUIRE(a[i].bytes == b[i].bytes);
    }
}

}  // namespace

TEST_CASE("trainer: a small run learns the synthetic classes and saves one checkpoint per epoch", "[trainer]") {
    testutil::TrainingFixture f;
    const TrainConfig c = f.config;
    const TrainOutcome out = run(c);
    CHECK(out.global_step == 3 * (1000 / 16));
    CHECK(out.epochs_done == 3);
    CHECK(list_checkpoint_files(c.ckpt_dir).size() == 3);
    const TrainingState st = read_checkpoint(latest_checkpoint(c.ckpt_dir));
    EvalWorkspace ws = make_eval_workspace(st.net);
    const Mnist data = load_mnist(c.data_dir, 100);
    CHECK(evaluate(st.net, data.test, ws).accuracy > 0.9);
}

TEST_CASE("trainer: stopped after an epoch and resumed ends byte-identical to an uninterrupted run", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig whole = f.config_in("whole");
    run(whole);

    TrainConfig parts = f.config_in("parts");
    parts.epochs = 1;
    run(parts);
    parts.epochs = 3;
    const TrainOutcome out = run(parts);
    CHECK(out.epochs_done == 2);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(parts.ckpt_dir));
}

TEST_CASE("trainer: resumed step by step after stop signals on changing thread counts, the weights are byte-identical",
          "[trainer]") {
    testutil::TrainingFixture f(300, 100);
    TrainConfig whole = f.config_in("whole");
    whole.epochs = 2;
    whole.threads = 1;
    run(whole);

    // Each run takes one step, then finds the stop request, saves mid-epoch and returns.
    TrainConfig parts = f.config_in("parts");
    parts.epochs = 2;
    const int64_t total = 2 * (200 / 16);
    int runs = 0;
    for (int64_t step = 0; step < total; ++step, ++runs) {
        parts.threads = 1 + runs % 3;
        const TrainOutcome out = run(parts, /*stop=*/15);
        REQUIRE(out.stopped_by_signal == 15);
        REQUIRE(out.global_step == step + 1);
    }
    CHECK(runs == total);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(parts.ckpt_dir));
}

TEST_CASE("trainer: with --threads 0 the team follows the step times, and the weights match a one-thread run",
          "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig one = f.config_in("one");
    one.threads = 1;
    run(one);
    // On more than one core the team tuner probes one thread fewer after the first 20 steps (and
    // may move), whatever the step times: the team changes during this run.
    TrainConfig tuned = f.config_in("tuned");
    tuned.threads = 0;
    run(tuned);
    require_identical(final_tensors(one.ckpt_dir), final_tensors(tuned.ckpt_dir));
}

TEST_CASE("trainer: mid-epoch saves every N steps resume at the next batch of the same epoch order", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig whole = f.config_in("whole");
    whole.epochs = 2;
    run(whole);

    TrainConfig parts = f.config_in("parts");
    parts.epochs = 2;
    parts.save_every_steps = 5;
    parts.max_to_keep = 0;
    run(parts);
    // Throw away everything after the mid-epoch checkpoint at step 70 (epoch 2, batch 8) and resume there.
    for (const auto& [step, name] : list_checkpoint_files(parts.ckpt_dir))
        if (step > 70) std::filesystem::remove(std::filesystem::path(parts.ckpt_dir) / name);
    std::filesystem::remove(std::filesystem::path(parts.ckpt_dir) / "checkpoint");
    REQUIRE(read_checkpoint(latest_checkpoint(parts.ckpt_dir)).global_step == 70);
    parts.threads = 1;
    run(parts);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(parts.ckpt_dir));
}

TEST_CASE("trainer: resuming with other hidden widths is refused, naming the setting", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    run(c);
    const auto before = testutil::read_bytes(latest_checkpoint(c.ckpt_dir));
    c.hidden = {30, 32};
    c.epochs = 2;
    REQUIRE_THROWS_WITH(run(c), Catch::Matchers::Contains("hidden") && Catch::Matchers::Contains("64,32"));
    c.hidden = {64, 32};
    c.batch_size = 20;
    REQUIRE_THROWS_WITH(run(c), Catch::Matchers::Contains("batch_size"));
    CHECK(testutil::read_bytes(latest_checkpoint(c.ckpt_dir)) == before);
    CHECK(list_checkpoint_files(c.ckpt_dir).size() == 1);
}

TEST_CASE("trainer: a finished run rerun with the same epochs trains nothing and changes nothing", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    run(c);
    const auto before = testutil::read_bytes(latest_checkpoint(c.ckpt_dir));
    const TrainOutcome again = run(c);
    CHECK(again.epochs_done == 0);
    CHECK(again.global_step == 1000 / 16);
    CHECK(testutil::read_bytes(latest_checkpoint(c.ckpt_dir)) == before);
}

TEST_CASE("trainer: three failed saves in a row stop the run with a clear message", "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    const Mnist data = load_mnist(c.data_dir, 100);
    std::atomic<int> signal{0};
    REQUIRE_THROWS_WITH(train(c, data, signal, FaultPoint::write_error),
                        Catch::Matchers::Contains("3 saves failed in a row"));
    CHECK(list_checkpoint_files(c.ckpt_dir).empty());
    for (const auto& entry : std::filesystem::directory_iterator(c.ckpt_dir))
        CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}

TEST_CASE("trainer: a 3-hidden-layer run warm-started with the first two weights of a 2-hidden-layer checkpoint "
          "starts from them, trains and resumes",
          "[trainer]") {
    testutil::TrainingFixture f;
    const TempDir& tmp = f.tmp;
    TrainConfig small = f.config_in("small");
    small.epochs = 1;
    run(small);
    const std::string source = latest_checkpoint(small.ckpt_dir);
    const TensorFile src = decode_safetensors(testutil::read_bytes(source), source);

    TrainConfig deep = f.config_in("deep");
    deep.hidden = {64, 32, 32};
    deep.epochs = 1;
    deep.init_from = source;
    deep.init_map = "w_h=w_h,w_h2";
    const std::vector<int> sizes = {196, 64, 32, 32, 10};
    const TrainingState start = new_run_state(deep, 196, 1000 / 16);
    const Mlp drawn = init_mlp(sizes, deep.seed);
    REQUIRE(start.net.sizes == sizes);
    CHECK(start.global_step == 0);
    for (size_t l = 0; l < 4; ++l) {
        INFO("layer " << l);
        const Matrix& w = start.net.weights[l];
        const std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(w.data()),
                                         reinterpret_cast<const uint8_t*>(w.data() + w.size()));
        if (l < 2) CHECK(bytes == src.find(weight_name(l, 4))->bytes);
        else CHECK(std::memcmp(w.data(), drawn.weights[l].data(), sizeof(float) * size_t(w.size())) == 0);
        CHECK((start.opt.ms[l].array() == 1.0f).all());
        CHECK((start.opt.mom[l].array() == 0.0f).all());
    }

    // Trained one epoch, then rerun with --init_from still given: it resumes, and ends byte-identical
    // to a warm-started run never stopped.
    CHECK(run(deep).global_step == 1000 / 16);
    deep.epochs = 2;
    const TrainOutcome resumed = run(deep);
    CHECK(resumed.epochs_done == 1);
    CHECK(resumed.global_step == 2 * (1000 / 16));
    TrainConfig whole = deep;
    whole.ckpt_dir = tmp / "whole";
    run(whole);
    require_identical(final_tensors(whole.ckpt_dir), final_tensors(deep.ckpt_dir));

    // The checkpoints record how the run started, also after a rerun that no longer names the file.
    deep.init_from.clear();
    deep.init_map.clear();
    deep.epochs = 3;
    run(deep);
    const TrainingState last = read_checkpoint(latest_checkpoint(deep.ckpt_dir));
    CHECK(last.global_step == 3 * (1000 / 16));
    CHECK(last.config.init_from == source);
    CHECK(last.config.init_map == "w_h=w_h,w_h2");
}

TEST_CASE("trainer: a warm start that does not fit the new model fails listing each name and writes nothing",
          "[trainer]") {
    testutil::TrainingFixture f;
    TrainConfig small = f.config_in("small");
    small.epochs = 1;
    run(small);

    TrainConfig deep = f.config_in("deep");
    deep.hidden = {64, 16, 32};
    deep.init_from = latest_checkpoint(small.ckpt_dir);
    deep.init_map = "w_h,w_h2,w_h3";
    REQUIRE_THROWS_WITH(run(deep), Catch::Matchers::Contains("w_h2: shape mismatch (new model: w_h2 F32 [64, 16]; "
                                                             "file: w_h2 F32 [64, 32])") &&
                                       Catch::Matchers::Contains("the file has no tensor 'w_h3'"));
    CHECK_FALSE(std::filesystem::exists(deep.ckpt_dir));

    // Without a map every weight name in both is taken, and their shapes must fit too.
    deep.init_map.clear();
    REQUIRE_THROWS_WITH(run(deep), Catch::Matchers::Contains("w_h2: shape mismatch"));
    CHECK_FALSE(std::filesystem::exists(deep.ckpt_dir));
    deep.hidden = {64, 32, 32};
    CHECK(run(deep).epochs_done == 3);
}
