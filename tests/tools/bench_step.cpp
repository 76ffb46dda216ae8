// Profile of one training step of the 784-625-625-10 model at batch 128 on the current threads:
// time of each matrix product (and its GFLOPS), of the element-wise work (dropout, ReLU, loss),
// of building the batch and of the RMSProp update. Prints one line per part.
//   usage: bench_step [STEPS [THREADS]]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "data_loader/mnist.hpp"
#include "src/gemm.hpp"
#include "src/mlp.hpp"
#include "src/rmsprop.hpp"
#include "src/rng.hpp"

using namespace mnist;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

int main(int argc, char** argv) {
    const int steps = argc > 1 ? std::atoi(argv[1]) : 200;
    set_compute_threads(argc > 2 ? std::atoi(argv[2]) : 0);
    const int B = 128;
    const std::vector<int> sizes = {784, 625, 625, 10};
    Mlp net = init_mlp(sizes, 1);
    RmsProp opt = make_rmsprop(net, {});
    Workspace ws = make_workspace(net, B);
    Dataset data;
    data.rows = data.cols = 28;
    data.pixels.resize(size_t(B) * 784);
    data.labels.resize(B);
    for (size_t i = 0; i < data.pixels.size(); ++i) data.pixels[i] = uint8_t((i * 2654435761u) >> 24);
    for (int i = 0; i < B; ++i) data.labels[i] = uint8_t(i % 10);
    std::vector<uint32_t> idx(B);
    std::iota(idx.begin(), idx.end(), 0u);

    // The products of one step, in the order forward_backward runs them.
    struct Product { const char* name; Trans ta, tb; int m, n, k; };
    const Product products[] = {
        {"forward  x*w_h      128x784 . 784x625", Trans::N, Trans::N, B, 625, 784},
        {"forward  h*w_h2     128x625 . 625x625", Trans::N, Trans::N, B, 625, 625},
        {"forward  h2*w_o     128x625 . 625x10 ", Trans::N, Trans::N, B, 10, 625},
        {"backward dw_o  h2^T*d  625x128 . 128x10 ", Trans::T, Trans::N, 625, 10, B},
        {"backward dh2   d*w_o^T 128x10 . 10x625  ", Trans::N, Trans::T, B, 625, 10},
        {"backward dw_h2 h^T*d   625x128 . 128x625", Trans::T, Trans::N, 625, 625, B},
        {"backward dh    d*w_h2^T 128x625 . 625x625", Trans::N, Trans::T, B, 625, 625},
        {"backward dw_h  x^T*d   784x128 . 128x625", Trans::T, Trans::N, 784, 625, B},
    };
    std::vector<float> a(784 * 640, 0.01f), b(784 * 640, 0.02f), c(784 * 640);
    double gather = 0, fb = 0, update = 0;
    std::vector<double> product_time(std::size(products), 0.0);
    for (int s = -10; s < steps; ++s) {  // 10 warm-up steps
        auto t = Clock::now();
        gather_batch(data, idx.data(), 0, B, ws.input.data());
        const double tg = seconds_since(t);
        t = Clock::now();
        forward_backward(net, ws, B, data.labels.data(), DropoutSpec{0.8f, 0.5f, 1, uint64_t(s + 10)});
        const double tf = seconds_since(t);
        t = Clock::now();
        rmsprop_step(opt, net, ws.grads);
        const double tu = seconds_since(t);
        std::vector<double> tp(std::size(products));
        for (size_t p = 0; p < std::size(products); ++p) {
            const Product& q = products[p];
            t = Clock::now();
            gemm(q.ta, q.tb, q.m, q.n, q.k, a.data(), b.data(), c.data());
            tp[p] = seconds_since(t);
        }
        if (s < 0) continue;
        gather += tg, fb += tf, update += tu;
        for (size_t p = 0; p < tp.size(); ++p) product_time[p] += tp[p];
    }
    double products_total = 0, flops_total = 0;
    std::printf("%-44s %10s %8s\n", "part of a step (batch 128)", "ms/step", "GFLOPS");
    for (size_t p = 0; p < std::size(products); ++p) {
        const Product& q = products[p];
        const double ms = 1e3 * product_time[p] / steps, flops = 2.0 * q.m * q.n * q.k;
        products_total += ms, flops_total += flops;
        std::printf("%-44s %10.3f %8.1f\n", q.name, ms, flops / (ms * 1e6));
    }
    const double fb_ms = 1e3 * fb / steps;
    const double step_ms = fb_ms + 1e3 * (gather + update) / steps;
    std::printf("%-44s %10.3f %8.1f\n", "all products", products_total, flops_total / (products_total * 1e6));
    std::printf("%-44s %10.3f\n", "dropout, ReLU, loss (forward_backward - products)", fb_ms - products_total);
    std::printf("%-44s %10.3f\n", "batch from bytes (gather_batch)", 1e3 * gather / steps);
    std::printf("%-44s %10.3f\n", "RMSProp update", 1e3 * update / steps);
    std::printf("%-44s %10.3f  (%.0f images/s, products %.0f%% of the step)\n", "whole step", step_ms,
                B / (step_ms * 1e-3), 100.0 * products_total / step_ms);
    std::printf("bench_step: products %.1f GFLOPS (%.1f MFLOP per step)\n", flops_total / (products_total * 1e6),
                flops_total / 1e6);
    return 0;
}
