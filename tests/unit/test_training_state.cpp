// The training state's derived values and a new run's initial state.
#include <catch2/catch.hpp>

#include <cstring>

#include "src/model/training_state.hpp"

using namespace mnist;

namespace {

TrainingState at_step(int64_t step, int64_t per_epoch, double loss_sum) {
    TrainingState st;
    st.global_step = step;
    st.steps_per_epoch = per_epoch;
    st.epoch_loss_sum = loss_sum;
    return st;
}

}  // namespace

TEST_CASE("training_state: before the first step nothing is done and the mean loss is 0", "[training_state]") {
    const TrainingState st = at_step(0, 10, 0.0);
    CHECK(st.epoch() == 0);
    CHECK(st.steps_into_epoch() == 0);
    CHECK_FALSE(st.at_epoch_end());
    CHECK(st.epoch_mean_loss() == 0.0);
}

TEST_CASE("training_state: mid-epoch the steps into the epoch count from its start", "[training_state]") {
    const TrainingState st = at_step(13, 10, 6.0);
    CHECK(st.epoch() == 1);
    CHECK(st.steps_into_epoch() == 3);
    CHECK_FALSE(st.at_epoch_end());
    CHECK(st.epoch_mean_loss() == 2.0);
}

TEST_CASE("training_state: at an epoch end the epoch counts whole and the next epoch is current", "[training_state]") {
    const TrainingState st = at_step(20, 10, 5.0);
    CHECK(st.epoch() == 2);
    CHECK(st.steps_into_epoch() == 10);
    CHECK(st.at_epoch_end());
    CHECK(st.epoch_mean_loss() == 0.5);
    const TrainingState next = at_step(21, 10, 0.25);
    CHECK_FALSE(next.at_epoch_end());
    CHECK(next.steps_into_epoch() == 1);
    CHECK(next.epoch_mean_loss() == 0.25);
}

TEST_CASE("training_state: the optimizer settings are the configuration's, in float32", "[training_state]") {
    TrainConfig c;
    c.learning_rate = 0.1;
    c.decay = 0.95;
    c.momentum = 0.5;
    c.epsilon = 1e-7;
    const RmsPropConfig r = rmsprop_config(c);
    CHECK(r.learning_rate == float(0.1));
    CHECK(r.decay == float(0.95));
    CHECK(r.momentum == 0.5f);
    CHECK(r.epsilon == float(1e-7));
}

TEST_CASE("training_state: a new run has the configured layers, init_mlp's weights bit for bit and fresh slots",
          "[training_state]") {
    TrainConfig c;
    c.hidden = {12, 7};
    c.seed = 99;
    const TrainingState st = initial_state(c, 30, 17);
    REQUIRE(st.net.sizes == std::vector<int>{30, 12, 7, 10});
    CHECK(st.global_step == 0);
    CHECK(st.steps_per_epoch == 17);
    CHECK(st.epoch_loss_sum == 0.0);
    const Mlp expected = init_mlp({30, 12, 7, 10}, 99);
    REQUIRE(st.net.weights.size() == 3);
    for (size_t l = 0; l < 3; ++l) {
        INFO("layer " << l);
        const Matrix& w = st.net.weights[l];
        REQUIRE(w.size() == expected.weights[l].size());
        CHECK(std::memcmp(w.data(), expected.weights[l].data(), sizeof(float) * size_t(w.size())) == 0);
        CHECK((st.opt.ms[l].array() == 1.0f).all());
        CHECK((st.opt.mom[l].array() == 0.0f).all());
    }
    CHECK(st.opt.config.learning_rate == float(c.learning_rate));
}
