// Known-answer tests of the TensorFlow 1.x RMSProp update: two steps computed by hand, and the
// exact float32 results of TF's operation order (computed with numpy float32).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <stdexcept>

#include <omp.h>

#include "src/checkpoint/checkpoint_file.hpp"
#include "src/model/rmsprop.hpp"
#include "src/numerics/gemm.hpp"
#include "src/numerics/kernel_path.hpp"
#include "src/numerics/rng.hpp"

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

namespace {
// The bits of every weight and slot.
std::vector<uint32_t> all_bits(const Mlp& net, const RmsProp& opt) {
    std::vector<uint32_t> out;
    for (const std::vector<Matrix>* ms : {&net.weights, &opt.ms, &opt.mom})
        for (const Matrix& m : *ms) {
            const size_t at = out.size();
            out.resize(at + size_t(m.size()));
            std::memcpy(out.data() + at, m.data(), sizeof(float) * size_t(m.size()));
        }
    return out;
}

// How many of the weights' and slots' floats differ in any bit between two runs.
long differing(const Mlp& net_a, const RmsProp& a, const Mlp& net_b, const RmsProp& b) {
    const std::vector<uint32_t> x = all_bits(net_a, a), y = all_bits(net_b, b);
    if (x.size() != y.size()) return -1;
    long count = 0;
    for (size_t i = 0; i < x.size(); ++i) count += x[i] != y[i];
    return count;
}

// Weights and gradients where the deferred slot's exceptions happen: +0 and -0 weights, gradients
// of +0, -0 and -1e-45 (lr * g rounds to -0: the momentum is then -0 only after a negative one).
struct Case {
    Mlp net = init_mlp({300, 200, 13}, 3);  // 60000 weights (a parallel loop) and 2600 (a tail of 8)
    std::vector<Matrix> grads;
    explicit Case(int step) {
        for (const Matrix& w : net.weights) grads.push_back(Matrix::Zero(w.rows(), w.cols()));
        for (Matrix& g : grads)
            for (long i = 0; i < g.size(); ++i) {
                const uint32_t r = mnist::random_block(9, Stream::dropout, uint32_t(step), 0, uint32_t(i))[0];
                const float special[4] = {0.0f, -0.0f, -1e-45f, 1e-45f};
                g.data()[i] = r % 5 == 0 ? special[(r >> 8) % 4] : (float(r % 2001) - 1000.0f) * 1e-3f;
            }
    }
};

// The compute team's size for one scope (the update defers its momentum slot only on a team of two
// or more threads).
class Team {
public:
    explicit Team(int threads) : before_(omp_get_max_threads()) { set_compute_threads(threads); }
    ~Team() { set_compute_threads(before_); }
    Team(const Team&) = delete;
    Team& operator=(const Team&) = delete;

private:
    int before_;
};
}  // namespace

TEST_CASE("rmsprop: deferring the momentum slot gives every bit of the stored update, settled at any step, on "
          "every kernel path", "[rmsprop]") {
    const Team two(2);
    for (KernelPath path : supported_kernel_paths()) {
        const KernelPath before = kernel_path();
        set_kernel_path(path);
        INFO(kernel_path_name(path));
        Mlp stored_net = Case(0).net;
        for (Matrix& w : stored_net.weights)
            for (long i = 0; i < w.size(); i += 7) w.data()[i] = i % 14 ? 0.0f : -0.0f;
        Mlp deferred_net = stored_net;
        RmsProp stored = make_rmsprop(stored_net, {}), deferred = make_rmsprop(deferred_net, {});
        for (int step = 1; step <= 8; ++step) {
            const Case c(step);
            rmsprop_step(stored, stored_net, c.grads);
            rmsprop_step_deferring_momentum(deferred, deferred_net, c.grads);
            CHECK(deferred.mom_deferred);
            if (step == 3 || step == 4 || step == 8) {  // settled twice in a row, and at the end
                settle_momentum(deferred, c.grads);
                CHECK_FALSE(deferred.mom_deferred);
                INFO("step " << step);
                CHECK(differing(deferred_net, deferred, stored_net, stored) == 0);
            }
        }
        set_kernel_path(before);
    }
}

TEST_CASE("rmsprop: an update gives the same bits on 1 to 4 threads, its pieces handed to any of them",
          "[rmsprop]") {
    // Case's first layer, 60000 weights, is 3.7 of the update's pieces (16 K elements): threads take
    // whole pieces and the last, short one in whatever order they come free. (On one thread the
    // deferring run stores its slots too: a team of one defers nothing.)
    const Team restored(omp_get_max_threads());
    for (KernelPath path : supported_kernel_paths()) {
        const KernelPath before = kernel_path();
        set_kernel_path(path);
        INFO(kernel_path_name(path));
        Mlp one_net[2];
        RmsProp one[2];
        for (int threads = 1; threads <= 4; ++threads) {
            set_compute_threads(threads);
            INFO(threads << " threads");
            for (int deferring = 0; deferring < 2; ++deferring) {  // the stored slot's loop and the deferred one
                Mlp net = Case(0).net;
                RmsProp opt = make_rmsprop(net, {});
                for (int step = 1; step <= 3; ++step) {
                    const Case c(step);
                    if (deferring) rmsprop_step_deferring_momentum(opt, net, c.grads);
                    else rmsprop_step(opt, net, c.grads);
                    if (step == 3) settle_momentum(opt, c.grads);
                }
                if (threads == 1) {
                    one_net[deferring] = net;
                    one[deferring] = opt;
                    continue;
                }
                INFO((deferring ? "deferred" : "stored") << " slot");
                CHECK(differing(net, opt, one_net[deferring], one[deferring]) == 0);
            }
        }
        set_kernel_path(before);
    }
}

TEST_CASE("rmsprop: a momentum that is not finite is stored, and read by the next update, as without deferral",
          "[rmsprop]") {
    const Team two(2);
    for (const bool inf_at_start : {false, true}) {
        INFO((inf_at_start ? "an inf momentum to begin with" : "a NaN gradient at step 3"));
        Mlp stored_net = Case(0).net, deferred_net = stored_net;
        RmsProp stored = make_rmsprop(stored_net, {}), deferred = make_rmsprop(deferred_net, {});
        // As a checkpoint may hold: inf * 0 + x is NaN, and so is NaN * 0 + x: such a slot stays
        // NaN, and must be stored and read at every step.
        if (inf_at_start) stored.mom[1].data()[5] = deferred.mom[1].data()[5] = INFINITY;
        for (int step = 1; step <= 5; ++step) {
            Case c(step);
            if (step == 3) c.grads[0].data()[17] = NAN;  // a NaN momentum, then weight, from here on
            rmsprop_step(stored, stored_net, c.grads);
            rmsprop_step_deferring_momentum(deferred, deferred_net, c.grads);
            INFO("step " << step);
            CHECK(deferred.mom_deferred == (!inf_at_start && step < 3));
            if (!deferred.mom_deferred) CHECK(differing(deferred_net, deferred, stored_net, stored) == 0);
        }
        CHECK(std::isnan(deferred.mom[0].data()[17]));
    }
}

TEST_CASE("rmsprop: with a momentum other than 0 nothing is deferred", "[rmsprop]") {
    Mlp stored_net = Case(0).net, deferred_net = stored_net;
    RmsProp stored = make_rmsprop(stored_net, {0.001f, 0.9f, 0.5f, 1e-10f}), deferred = stored;
    for (int step = 1; step <= 3; ++step) {
        const Case c(step);
        rmsprop_step(stored, stored_net, c.grads);
        rmsprop_step_deferring_momentum(deferred, deferred_net, c.grads);
        CHECK_FALSE(deferred.mom_deferred);
    }
    CHECK(differing(deferred_net, deferred, stored_net, stored) == 0);
}

TEST_CASE("rmsprop: a team of one thread starts no deferral, and slots deferred on two stay deferred until "
          "settled", "[rmsprop]") {
    const Team restored(omp_get_max_threads());
    Mlp stored_net = Case(0).net, deferred_net = stored_net;
    RmsProp stored = make_rmsprop(stored_net, {}), deferred = make_rmsprop(deferred_net, {});
    // Threads at each step, and whether the slots are deferred after it: settled after step 4.
    const int threads[6] = {1, 2, 1, 1, 1, 2};
    const bool deferred_after[6] = {false, true, true, true, false, true};
    for (int step = 1; step <= 6; ++step) {
        const Case c(step);
        set_compute_threads(threads[step - 1]);
        rmsprop_step(stored, stored_net, c.grads);
        rmsprop_step_deferring_momentum(deferred, deferred_net, c.grads);
        INFO("step " << step << " on " << threads[step - 1] << " thread(s)");
        CHECK(deferred.mom_deferred == deferred_after[step - 1]);
        if (step == 4) settle_momentum(deferred, c.grads);
        if (!deferred.mom_deferred) CHECK(differing(deferred_net, deferred, stored_net, stored) == 0);
    }
    settle_momentum(deferred, Case(6).grads);
    CHECK(differing(deferred_net, deferred, stored_net, stored) == 0);
}

TEST_CASE("rmsprop: a deferred momentum slot is never read: a stored step or a checkpoint of it is refused",
          "[rmsprop]") {
    const Team two(2);
    TrainingState st;
    st.net = Case(0).net;
    st.opt = make_rmsprop(st.net, {});
    const Case c(1);
    rmsprop_step_deferring_momentum(st.opt, st.net, c.grads);
    REQUIRE(st.opt.mom_deferred);
    CHECK_THROWS_AS(rmsprop_step(st.opt, st.net, c.grads), std::logic_error);
    CHECK_THROWS_AS(to_tensor_file(st), std::logic_error);
    settle_momentum(st.opt, c.grads);
    CHECK_NOTHROW(to_tensor_file(st));
}
