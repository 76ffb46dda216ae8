// Restore-or-initialize: the run's shape, a new run, a restored one, and what a resume may change.
#include <catch2/catch.hpp>

#include <filesystem>

#include "src/train/start.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;
using Catch::Matchers::Contains;

namespace {

Mnist data_of(const TrainConfig& c) { return load_mnist(c.data_dir, size_t(c.validation_size)); }

}  // namespace

TEST_CASE("start: the run's shape drops an epoch's remainder and refuses a batch larger than the data", "[start]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;  // 1000 training images after the validation split, batches of 16
    const Mnist data = data_of(c);
    const RunShape shape = run_shape(c, data);
    CHECK(shape.input_size == 14 * 14);
    CHECK(shape.steps_per_epoch == 1000 / 16);
    CHECK(shape.total_steps == 3 * (1000 / 16));
    c.batch_size = 1000;
    CHECK(run_shape(c, data).steps_per_epoch == 1);
    c.batch_size = 1001;
    REQUIRE_THROWS_AS(run_shape(c, data), ConfigError);
    REQUIRE_THROWS_WITH(run_shape(c, data), Contains("--batch_size 1001") && Contains("1000 images"));
}

TEST_CASE("start: an empty directory starts a new run at step 0 and is created", "[start]") {
    testutil::TrainingFixture f;
    const TrainConfig c = f.config_in("new/dir");
    const Start s = restore_or_initialize(c, run_shape(c, data_of(c)), FaultPoint::none);
    CHECK(s.restored_file.empty());
    CHECK(s.state.global_step == 0);
    CHECK(s.state.net.sizes == std::vector<int>{196, 64, 32, 10});
    CHECK(s.state.steps_per_epoch == 1000 / 16);
    CHECK(std::filesystem::is_directory(c.ckpt_dir));
    CHECK(list_checkpoint_files(c.ckpt_dir).empty());  // nothing saved before the first step
}

TEST_CASE("start: a directory with a checkpoint restores its newest one", "[start]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    c.save_every_steps = 20;  // model-20, -40, -60, then the epoch's end, model-62
    testutil::run(c);
    REQUIRE(list_checkpoint_files(c.ckpt_dir).size() == 4);
    c.epochs = 3;
    const Start s = restore_or_initialize(c, run_shape(c, data_of(c)), FaultPoint::none);
    CHECK(s.restored_file == checkpoint_file_name(1000 / 16));
    CHECK(s.state.global_step == 1000 / 16);
    CHECK(s.state.config.epochs == 3);
    const TrainingState saved = read_checkpoint(latest_checkpoint(c.ckpt_dir));
    REQUIRE(s.state.net.weights.size() == saved.net.weights.size());
    for (size_t l = 0; l < saved.net.weights.size(); ++l) CHECK(s.state.net.weights[l] == saved.net.weights[l]);
}

TEST_CASE("start: a second start on a directory in use fails naming the directory", "[start]") {
    testutil::TrainingFixture f;
    const TrainConfig c = f.config;
    const RunShape shape = run_shape(c, data_of(c));
    {
        const Start first = restore_or_initialize(c, shape, FaultPoint::none);
        REQUIRE_THROWS_AS(restore_or_initialize(c, shape, FaultPoint::none), CheckpointError);
        REQUIRE_THROWS_WITH(restore_or_initialize(c, shape, FaultPoint::none),
                            Contains("'" + c.ckpt_dir + "'") && Contains("in use by another trainer"));
    }
    // The lock goes with the Start that holds it.
    CHECK_NOTHROW(restore_or_initialize(c, shape, FaultPoint::none));
}

TEST_CASE("start: a resume refuses settings that fix shapes or the data order, naming each", "[start]") {
    TrainConfig c = testutil::small_config("data", "ckpt");
    const RunShape shape{196, 62, 186, "", ""};
    const TrainingState saved = initial_state(c, 196, 62);
    TrainConfig other = c;
    other.hidden = {64, 16};
    other.batch_size = 32;
    other.seed = 8;
    REQUIRE_THROWS_AS(resumed_state(saved, "model-5.safetensors", other, shape), ConfigError);
    REQUIRE_THROWS_WITH(resumed_state(saved, "model-5.safetensors", other, shape),
                        Contains("model-5.safetensors") && Contains("hidden: checkpoint has 64,32, requested 64,16") &&
                            Contains("batch_size: checkpoint has 16, requested 32") &&
                            Contains("seed: checkpoint has 7, requested 8"));
    REQUIRE_THROWS_WITH(resumed_state(saved, "f", c, RunShape{100, 62, 186, "", ""}), Contains("input size"));
    REQUIRE_THROWS_WITH(resumed_state(saved, "f", c, RunShape{196, 61, 183, "", ""}), Contains("steps per epoch"));
}

TEST_CASE("start: a resume takes a changed learning rate into the optimizer with a warning and keeps how the run "
          "started",
          "[start]") {
    testutil::CapturedLog captured;
    TrainConfig c = testutil::small_config("data", "ckpt");
    c.init_from = "small/model-1.safetensors";
    c.init_map = "w_h";
    c.init_optimizer = true;
    const RunShape shape{196, 62, 186, "", ""};
    TrainingState saved = initial_state(c, 196, 62);
    saved.global_step = 70;
    saved.epoch_loss_sum = 2.5;
    TrainConfig rerun = c;
    rerun.learning_rate = 0.5;
    rerun.decay = 0.8;
    rerun.init_from = "elsewhere.safetensors";
    rerun.init_map.clear();
    rerun.init_optimizer = false;
    rerun.epochs = 9;
    const TrainingState st = resumed_state(saved, "model-70.safetensors", rerun, shape);
    CHECK(st.opt.config.learning_rate == 0.5f);
    CHECK(st.opt.config.decay == 0.8f);
    CHECK(st.config.learning_rate == 0.5);
    CHECK(st.config.epochs == 9);
    CHECK(st.config.init_from == "small/model-1.safetensors");
    CHECK(st.config.init_map == "w_h");
    CHECK(st.config.init_optimizer);
    CHECK(st.global_step == 70);
    CHECK_THAT(captured.str(), Contains("warning") && Contains("learning_rate: checkpoint has 0.01, requested 0.5") &&
                                   Contains("decay: checkpoint has 0.9, requested 0.8"));
    CHECK(st.epoch_loss_sum == 2.5);  // mid-epoch: the partial sum goes on
    saved.global_step = 124;            // an epoch boundary: the next epoch starts from 0
    CHECK(resumed_state(saved, "model-124.safetensors", rerun, shape).epoch_loss_sum == 0.0);
}

TEST_CASE("start: a resume with unchanged settings warns about nothing", "[start]") {
    testutil::CapturedLog captured;
    const TrainConfig c = testutil::small_config("data", "ckpt");
    TrainingState saved = initial_state(c, 196, 62);
    saved.global_step = 70;
    TrainConfig rerun = c;
    rerun.epochs = 9;  // how long to train is not a change of the run
    rerun.threads = 1;
    resumed_state(saved, "model-70.safetensors", rerun, RunShape{196, 62, 558, "", ""});
    CHECK(captured.str().find("warning") == std::string::npos);
}

TEST_CASE("start: a network that cannot fit in the memory available is refused with the bytes needed and available",
          "[start]") {
    TrainConfig c = TrainConfig{};
    c.hidden = {200000, 200000};
    const uint64_t available = uint64_t(16) << 30;
    REQUIRE_THROWS_AS(check_memory(c, 784, available), ConfigError);
    // 7 floats per weight: 784*200000 + 200000*200000 + 200000*10 weights, plus activations.
    const double need = training_bytes({784, 200000, 200000, 10}, c.batch_size);
    CHECK(need > 28.0 * 200000 * 200000);
    REQUIRE_THROWS_WITH(check_memory(c, 784, available),
                        Contains("--hidden 200000,200000") && Contains("784-200000-200000-10") &&
                            Contains(std::to_string(uint64_t(need)) + " bytes") &&
                            Contains(std::to_string(available) + " bytes (17.2 GB) of memory are available"));
    c.hidden = {625, 625};
    CHECK_NOTHROW(check_memory(c, 784, available));
    CHECK_NOTHROW(check_memory(c, 784, 0));  // unknown: nothing refused
    // More than 2^64 bytes is still a number, not an overflow.
    c.hidden = {1000000, 1000000, 1000000};
    CHECK(training_bytes({784, 1000000, 1000000, 1000000, 10}, 128) > 5.6e13);
    REQUIRE_THROWS_AS(check_memory(c, 784, available), ConfigError);
}

TEST_CASE("start: a resume on data with another fingerprint is refused naming both and the files, unless allowed",
          "[start]") {
    testutil::CapturedLog captured;
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    c.epochs = 1;
    testutil::run(c);
    const TrainingState first = read_checkpoint(latest_checkpoint(c.ckpt_dir));
    const Mnist data = data_of(c);
    REQUIRE(first.config.data_fingerprint == data.fingerprint);
    REQUIRE_THAT(data.fingerprint, Contains("train 1100x14x14 crc32 ") && Contains(", test 200x14x14 crc32 "));

    // The same files under another path: no difference, no warning (the path is not compared).
    const std::string copy = (std::filesystem::path(c.data_dir).parent_path() / "copy").string();
    std::filesystem::copy(c.data_dir, copy);
    c.epochs = 2;
    c.data_dir = copy;
    CHECK(restore_or_initialize(c, run_shape(c, data_of(c)), FaultPoint::none).state.config.data_dir == copy);
    CHECK(captured.str().find("other data") == std::string::npos);

    // Other contents in the same directory: refused, naming both fingerprints and the files.
    std::vector<uint8_t> img = testutil::read_bytes(copy + "/train-images-idx3-ubyte");
    img[16 + 5] ^= 0x01;  // one pixel of the validation part
    testutil::write_bytes(copy + "/train-images-idx3-ubyte", img);
    const Mnist other = data_of(c);
    REQUIRE(other.fingerprint != data.fingerprint);
    REQUIRE_THROWS_AS(restore_or_initialize(c, run_shape(c, other), FaultPoint::none), ConfigError);
    REQUIRE_THROWS_WITH(restore_or_initialize(c, run_shape(c, other), FaultPoint::none),
                        Contains(data.fingerprint) && Contains(other.fingerprint) &&
                            Contains(copy + "/train-images-idx3-ubyte") && Contains("--allow_other_data"));

    // Allowed: a warning, and the new fingerprint and the permission are recorded.
    c.allow_other_data = true;
    const Start s = restore_or_initialize(c, run_shape(c, other), FaultPoint::none);
    CHECK(s.state.config.data_fingerprint == other.fingerprint);
    CHECK(s.state.config.allow_other_data);
    CHECK_THAT(captured.str(), Contains("resuming on other data") && Contains(data.fingerprint));
}

TEST_CASE("start: a checkpoint written before fingerprints were recorded resumes on any data", "[start]") {
    TrainConfig c = testutil::small_config("data", "ckpt");
    const RunShape shape{196, 62, 186, "train 1x1x1 crc32 00000000/00000000, test 1x1x1 crc32 00000000/00000000", "x"};
    TrainingState saved = initial_state(c, 196, 62);
    saved.config.data_fingerprint = "";
    const TrainingState s = resumed_state(saved, "model-5.safetensors", c, shape);
    CHECK(s.config.data_fingerprint == shape.data_fingerprint);  // recorded from now on
}

// From a review: with only damaged checkpoints in the directory, a bad --init_from moved them aside
// and then failed; nothing should be touched by a run that does not start.
TEST_CASE("start: a bad --init_from in a directory of damaged checkpoints fails before moving them aside", "[start]") {
    testutil::TrainingFixture f;
    TrainConfig c = f.config;
    std::filesystem::create_directories(c.ckpt_dir);
    const std::string damaged = c.ckpt_dir + "/model-5.safetensors";
    testutil::write_bytes(damaged, {1, 2, 3});
    c.init_from = c.ckpt_dir + "/missing.safetensors";
    REQUIRE_THROWS_WITH(restore_or_initialize(c, run_shape(c, data_of(c)), FaultPoint::none),
                        Contains("missing.safetensors"));
    CHECK(testutil::read_bytes(damaged) == std::vector<uint8_t>{1, 2, 3});
    CHECK_FALSE(std::filesystem::exists(damaged + ".damaged"));
}
