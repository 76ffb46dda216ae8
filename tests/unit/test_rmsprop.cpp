// Known-answer tests of the TensorFlow 1.x RMSProp update: two steps computed by hand, and the
// exact float32 results of TF's operation order (computed with numpy float32).
#include <catch2/catch.hpp>

#include "src/model/rmsprop.hpp"

using namespace mnist;

namespace {
struct Scalar {
    float var = 1.0f, ms = 1.0f, mom = 0.0f;
    void step(const RmsPropConfig& c, float g) { rmsprop_apply(c, &var, &ms, &mom, &g, 1); }
};
}  // namespace

TEST_CASE("rmsprop: two steps without momentum match the hand computation", "[rmsprop]") {
    const RmsPropConfig c{0.1f, 0.9f, 0.0f, 1e-10f};
    Scalar s;
    s.step(c, 0.5f);
    // ms = 1 + (0.25 - 1) * 0.1 = 0.925; mom = 0.1 * 0.5 / sqrt(0.925) = 0.0519875; var = 0.9480125
    CHECK(s.ms == Approx(0.925).epsilon(1e-6));
    CHECK(s.mom == Approx(0.0519875).epsilon(1e-5));
    CHECK(s.var == Approx(0.9480125).epsilon(1e-6));
    s.step(c, -0.25f);
    // ms = 0.925 + (0.0625 - 0.925) * 0.1 = 0.83875; mom = -0.025 / sqrt(0.83875) = -0.0272976
    CHECK(s.ms == Approx(0.83875).epsilon(1e-6));
    CHECK(s.mom == Approx(-0.0272976).epsilon(1e-5));
    CHECK(s.var == Approx(0.9753101).epsilon(1e-6));
    // Bit-exact float32 results of TF's order of operations (numpy float32).
    CHECK(s.ms == 0.8387499451637268f);
    CHECK(s.mom == -0.027297554537653923f);
    CHECK(s.var == 0.9753100275993347f);
}

TEST_CASE("rmsprop: momentum accumulates the scaled gradient as TensorFlow does", "[rmsprop]") {
    const RmsPropConfig c{0.1f, 0.9f, 0.9f, 1e-10f};
    Scalar s;
    s.step(c, 0.5f);
    CHECK(s.var == 0.9480124711990356f);
    s.step(c, -0.25f);
    // mom = 0.9 * 0.0519875 - 0.0272976 = 0.0194912; var = 0.9480125 - 0.0194912
    CHECK(s.mom == 0.019491219893097878f);
    CHECK(s.var == 0.9285212755203247f);
}

TEST_CASE("rmsprop: slots start at one (rms) and zero (momentum) shaped like the weights", "[rmsprop]") {
    const Mlp net = init_mlp({6, 4, 3}, 1);
    const RmsProp opt = make_rmsprop(net, {});
    REQUIRE(opt.ms.size() == 2);
    REQUIRE(opt.mom.size() == 2);
    CHECK(opt.ms[0].rows() == 6);
    CHECK(opt.ms[1].cols() == 3);
    CHECK((opt.ms[0].array() == 1.0f).all());
    CHECK((opt.mom[1].array() == 0.0f).all());
}

TEST_CASE("rmsprop: epsilon sits inside the square root", "[rmsprop]") {
    // With a zero gradient history the update is g / sqrt(ms + eps); eps = 0.21 makes it visible.
    const RmsPropConfig c{1.0f, 0.0f, 0.0f, 0.21f};
    Scalar s;
    s.step(c, 0.2f);  // ms = 0.04 (decay 0), update = 0.2 / sqrt(0.25) = 0.4
    CHECK(s.ms == Approx(0.04));
    CHECK(s.var == Approx(0.6).epsilon(1e-6));
}

TEST_CASE("rmsprop: a step updates every weight matrix from its own gradient", "[rmsprop]") {
    Mlp net = init_mlp({5, 4, 3}, 2);
    const Mlp before = net;
    RmsProp opt = make_rmsprop(net, {0.01f, 0.9f, 0.0f, 1e-10f});
    std::vector<Matrix> grads = {Matrix::Constant(5, 4, 1.0f), Matrix::Zero(4, 3)};
    rmsprop_step(opt, net, grads);
    CHECK(((before.weights[0] - net.weights[0]).array() > 0.0f).all());  // every weight moved down
    CHECK(net.weights[1] == before.weights[1]);  // zero gradient: unchanged
}
