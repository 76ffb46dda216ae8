// The network: finite-difference gradient check of the backward pass (with dropout), dropout
// statistics, loss known answers, initialisation and naming.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>

#include "src/numerics/gemm.hpp"
#include "src/model/mlp.hpp"
#include "src/numerics/rng.hpp"

using namespace mnist;

namespace {

// Loss of the network on a fixed batch with a fixed dropout mask (same seed and step).
double loss_at(const Mlp& net, const Matrix& x, const std::vector<uint8_t>& y, const DropoutSpec& d) {
    Workspace ws = make_workspace(net, int(x.rows()));
    ws.input = x;
    return forward_backward(net, ws, int(x.rows()), y.data(), d);
}

}  // namespace

TEST_CASE("mlp: backward pass matches finite differences of the loss, dropout included", "[mlp]") {
    Mlp net = init_mlp({12, 9, 7, 4}, 5, 0.5f);
    Matrix x(6, 12);
    fill_normal(x.data(), size_t(x.size()), 1.0f, 11, 9);
    x = x.cwiseAbs();
    const std::vector<uint8_t> y = {0, 1, 2, 3, 1, 2};
    const DropoutSpec d{0.8f, 0.5f, 17, 3};

    Workspace ws = make_workspace(net, 6);
    ws.input = x;
    forward_backward(net, ws, 6, y.data(), d);
    const std::vector<Matrix> grads = ws.grads;

    int checked = 0;
    for (size_t l = 0; l < net.layers(); ++l)
        for (Eigen::Index i = 0; i < net.weights[l].size(); i += 3) {
            float& w = net.weights[l].data()[i];
            const float saved = w;
            const float h = 1e-2f;
            w = saved + h;
            const double up = loss_at(net, x, y, d);
            w = saved - h;
            const double down = loss_at(net, x, y, d);
            w = saved;
            const double numeric = (up - down) / (2.0 * h);
            const double analytic = grads[l].data()[i];
            INFO("layer " << l << " element " << i);
            REQUIRE(analytic == Approx(numeric).margin(2e-3).epsilon(2e-2));
            ++checked;
        }
    CHECK(checked > 50);
}

TEST_CASE("mlp: softmax cross-entropy matches a hand computation", "[mlp]") {
    // logits (0, ln 3): p = (1/4, 3/4); label 1: loss = -ln(3/4); gradient (p - onehot) / n.
    const float logits[2] = {0.0f, std::log(3.0f)};
    const uint8_t label = 1;
    float grad[2];
    const double loss = softmax_cross_entropy(logits, 1, 2, &label, grad);
    CHECK(loss == Approx(-std::log(0.75)));
    CHECK(grad[0] == Approx(0.25));
    CHECK(grad[1] == Approx(-0.25));
}

TEST_CASE("mlp: dropout keeps about keep_prob of the units and scales them by 1/keep_prob", "[mlp]") {
    // One layer net 1000 -> 1 with identity-ish weights is not needed: look at the input after dropout.
    Mlp net = init_mlp({1000, 2}, 1);
    Workspace ws = make_workspace(net, 20);
    ws.input.setConstant(0.5f);
    const std::vector<uint8_t> y(20, 0);
    forward_backward(net, ws, 20, y.data(), DropoutSpec{0.8f, 1.0f, 3, 4});
    int kept = 0;
    for (Eigen::Index i = 0; i < ws.input.size(); ++i) {
        const float v = ws.input.data()[i];
        REQUIRE((v == 0.0f || v == 0.5f / 0.8f));
        kept += v != 0.0f;
    }
    CHECK(double(kept) / double(ws.input.size()) == Approx(0.8).margin(0.01));
}

TEST_CASE("mlp: the same seed and step give the same mask, another step another mask", "[mlp]") {
    Mlp net = init_mlp({50, 30, 2}, 1);
    Matrix x = Matrix::Constant(8, 50, 0.3f);
    const std::vector<uint8_t> y(8, 1);
    auto run = [&](uint64_t step) {
        Workspace ws = make_workspace(net, 8);
        ws.input = x;
        forward_backward(net, ws, 8, y.data(), DropoutSpec{0.8f, 0.5f, 9, step});
        return ws.grads[0];
    };
    CHECK(run(4) == run(4));
    CHECK(run(4) != run(5));
}

TEST_CASE("mlp: a training pass is bit-identical on 1 and 2 threads", "[mlp]") {
    Mlp net = init_mlp({784, 625, 625, 10}, 1);
    Matrix x(128, 784);
    fill_normal(x.data(), size_t(x.size()), 1.0f, 2, 0);
    std::vector<uint8_t> y(128);
    for (int i = 0; i < 128; ++i) y[i] = uint8_t(i % 10);
    auto run = [&](int threads) {
        set_compute_threads(threads);
        Workspace ws = make_workspace(net, 128);
        ws.input = x;
        const double loss = forward_backward(net, ws, 128, y.data(), DropoutSpec{0.8f, 0.5f, 1, 7});
        return std::make_pair(loss, ws.grads);
    };
    const int saved = omp_get_max_threads();
    const auto one = run(1), two = run(2);
    set_compute_threads(saved);
    CHECK(one.first == two.first);
    for (size_t l = 0; l < 3; ++l)
        CHECK(std::memcmp(one.second[l].data(), two.second[l].data(), size_t(one.second[l].size()) * 4) == 0);
}

TEST_CASE("mlp: weights are named as in the tutorial and drawn with standard deviation 0.01", "[mlp]") {
    CHECK(weight_name(0, 3) == "w_h");
    CHECK(weight_name(1, 3) == "w_h2");
    CHECK(weight_name(2, 3) == "w_o");
    CHECK(weight_name(3, 5) == "w_h4");
    const Mlp net = init_mlp({784, 625, 625, 10}, 42);
    REQUIRE(net.layers() == 3);
    CHECK(net.weights[1].rows() == 625);
    const Matrix& w = net.weights[0];
    const double mean = w.mean();
    const double sd = std::sqrt((w.array() - float(mean)).square().mean());
    CHECK(sd == Approx(0.01).epsilon(0.01));
    CHECK(init_mlp({784, 625, 625, 10}, 42).weights[2] == net.weights[2]);
}

TEST_CASE("mlp: inference needs no dropout and gives the same logits in any chunking", "[mlp]") {
    Mlp net = init_mlp({20, 16, 3}, 8, 0.3f);
    Matrix x(10, 20);
    fill_normal(x.data(), size_t(x.size()), 1.0f, 4, 0);
    Workspace all = make_workspace(net, 10);
    all.input = x;
    forward_logits(net, all, 10);
    Workspace half = make_workspace(net, 5, WorkspaceUse::inference);
    half.input = x.bottomRows(5);
    forward_logits(net, half, 5);
    // Each row is summed on its own in k order on every kernel path, whatever the number of rows.
    CHECK(half.logits == all.logits.bottomRows(5));
}

TEST_CASE("mlp: inference from weights packed once gives the logits of inference that packs them in each product", "[mlp]") {
    Mlp net = init_mlp({200, 150, 140, 10}, 9, 0.1f);
    Matrix x(300, 200);  // mostly zeros, like images: the products skip them and read the packed weights
    fill_normal(x.data(), size_t(x.size()), 1.0f, 5, 0);
    for (Eigen::Index i = 0; i < x.size(); ++i)
        if (i % 5 != 0) x.data()[i] = 0.0f;
    Workspace each = make_workspace(net, 300, WorkspaceUse::inference);
    each.input = x;
    forward_logits(net, each, 300);
    Workspace once = make_workspace(net, 300, WorkspaceUse::inference);
    once.input = x;
    const std::vector<PackedB> packed = pack_weights(net);
    REQUIRE(packed.size() == net.layers());
    forward_logits(net, once, 300, &packed);
    CHECK(once.logits == each.logits);
    CHECK(once.hidden[1] == each.hidden[1]);
}

TEST_CASE("mlp: an inference workspace holds no gradients and refuses a training pass", "[mlp]") {
    Mlp net = init_mlp({20, 16, 3}, 8, 0.3f);
    Workspace ws = make_workspace(net, 4, WorkspaceUse::inference);
    CHECK(ws.grads.empty());
    CHECK(ws.delta.empty());
    const uint8_t labels[4] = {0, 1, 2, 0};
    ws.input.setZero();
    CHECK_THROWS_AS(forward_backward(net, ws, 4, labels, DropoutSpec{}), std::logic_error);
}

TEST_CASE("mlp: with NaN logits, w_o's gradient stays +0 on a hidden unit off in every row, as skipping zeros gives",
          "[mlp]") {
    // w_o's gradient is a dense product when d loss / d logits is finite (a zero term adds nothing);
    // a NaN there would turn 0 * NaN terms into NaN, so the product then skips zeros as before.
    Mlp net = init_mlp({50, 40, 30, 10}, 3, 0.1f);
    for (int p = 0; p < 40; ++p) net.weights[1](p, 3) = -std::abs(net.weights[1](p, 3));  // unit 3: never positive
    net.weights[2](5, 0) = std::nanf("");
    Matrix x(16, 50);
    fill_normal(x.data(), size_t(x.size()), 1.0f, 4, 0);
    x = x.cwiseAbs();
    std::vector<uint8_t> y(16, 1);
    Workspace ws = make_workspace(net, 16);
    ws.input = x;
    forward_backward(net, ws, 16, y.data(), DropoutSpec{1.0f, 1.0f, 1, 0});
    const Matrix& g = ws.grads[2];
    bool nan_elsewhere = false;
    for (int j = 0; j < 10; ++j) {
        CHECK(g(3, j) == 0.0f);
        CHECK_FALSE(std::signbit(g(3, j)));
        for (int p = 0; p < 30; ++p) nan_elsewhere = nan_elsewhere || std::isnan(g(p, j));
    }
    CHECK(nan_elsewhere);  // the NaN did reach the gradient
}

TEST_CASE("mlp: a batch cut into slices, gradients continued slice after slice, gives forward_backward's bits", "[mlp]") {
    // What data-parallel training computes on N processes (ranks.hpp), here on one: each slice's
    // rows alone, the sums over rows chained in row order.
    const int batch = 37;
    Mlp net = init_mlp({50, 40, 30, 10}, 3, 0.1f);
    Matrix x(batch, 50);
    fill_normal(x.data(), size_t(x.size()), 1.0f, 4, 0);
    x = x.cwiseAbs();
    std::vector<uint8_t> y(batch);
    for (int i = 0; i < batch; ++i) y[size_t(i)] = uint8_t((i * 7) % 10);
    const DropoutSpec d{0.8f, 0.5f, 21, 5};
    Workspace whole = make_workspace(net, batch);
    whole.input = x;
    const double expected_loss = forward_backward(net, whole, batch, y.data(), d);
    for (int slices : {1, 2, 3, 4, 7, batch}) {
        std::vector<Matrix> grads;
        for (const Matrix& w : net.weights) grads.push_back(Matrix::Zero(w.rows(), w.cols()));
        double loss_sum = 0;
        for (int s = 0; s < slices; ++s) {
            const int r0 = batch * s / slices, r1 = batch * (s + 1) / slices, n = r1 - r0;
            Workspace ws = make_workspace(net, n);
            ws.input = x.middleRows(r0, n);
            DropoutSpec part = d;
            part.first_row = r0;
            std::vector<double> row_loss(static_cast<size_t>(n));
            forward_backward_rows(net, ws, n, y.data() + r0, part, batch, row_loss.data());
            for (double l : row_loss) loss_sum += l;
            for (size_t l = 0; l < net.layers(); ++l) {
                ws.grads[l] = grads[l];
                for (int i0 = 0; i0 < net.sizes[l]; i0 += 8)
                    weight_gradient_go_on(net, ws, l, n, i0, std::min(net.sizes[l], i0 + 8));
                grads[l] = ws.grads[l];
            }
        }
        INFO(slices << " slices");
        CHECK(loss_sum / batch == expected_loss);
        for (size_t l = 0; l < net.layers(); ++l)
            CHECK(std::memcmp(grads[l].data(), whole.grads[l].data(), size_t(grads[l].size()) * 4) == 0);
    }
}
