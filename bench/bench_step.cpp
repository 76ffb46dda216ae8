// Profile of training steps of the 784-625-625-10 model at batch 128 on real MNIST batches (the
// sparsity of the data decides how much work the products that skip zeros do): time of each part
// of forward_backward (products, ReLU and dropout, loss), of building the batch and of the RMSProp
// update, and the GFLOPS of the products counted as dense (555.7 MFLOP per step, the figure a
// dense BLAS would have to reach) and as the multiply-adds actually done.
//   usage: bench_step [STEPS [THREADS [DATA_DIR]]]     (defaults 300, all cores, data/mnist)
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "data_loader/mnist.hpp"
#include "src/numerics/kernel_path.hpp"
#include "src/numerics/gemm.hpp"
#include "src/model/mlp.hpp"
#include "src/model/rmsprop.hpp"
#include "src/numerics/rng.hpp"

using namespace mnist;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int run(int steps, int threads, const std::string& data_dir) {
    set_compute_threads(threads);
    std::printf("bench_step: product kernels %s (MNIST_KERNEL=avx512|avx2|plain forces one)\n",
                kernel_path_name(kernel_path()));
    const Mnist data = load_mnist(data_dir, 5000);
    const int B = 128;
    Mlp net = init_mlp({784, 625, 625, 10}, 1);
    RmsProp opt = make_rmsprop(net, {});
    Workspace ws = make_workspace(net, B);
    std::vector<uint32_t> order;
    shuffled_order(order, data.train.size(), 1, 0);
    std::vector<uint8_t> labels(B);
    StepProfile profile;
    double gather = 0, update = 0;
    const int warmup = 10, per_epoch = int(data.train.size() / B);
    for (int s = -warmup; s < steps; ++s) {
        const int step = s + warmup;
        const uint32_t* idx = order.data() + size_t(step % per_epoch) * B;
        ws.profile = s < 0 ? nullptr : &profile;
        auto t = Clock::now();
        gather_batch(data.train, idx, 0, B, ws.input.data());
        for (int i = 0; i < B; ++i) labels[i] = data.train.labels[idx[i]];
        const double tg = seconds_since(t);
        forward_backward(net, ws, B, labels.data(), DropoutSpec{0.8f, 0.5f, 1, uint64_t(step)});
        t = Clock::now();
        rmsprop_step(opt, net, ws.grads);
        const double tu = seconds_since(t);
        if (s < 0) continue;
        gather += tg, update += tu;
    }
    double products = 0, elementwise = 0, done = 0, dense = 0;
    std::printf("%-52s %9s %8s %10s\n", "part of a step (batch 128, real MNIST batches)", "ms/step", "density", "GFLOPS");
    for (const StepProfile::Part& p : profile.parts) {
        const double ms = 1e3 * p.seconds / steps;
        if (p.dense_multiply_adds > 0) {
            products += ms, done += p.multiply_adds, dense += p.dense_multiply_adds;
            std::printf("%-52s %9.3f %8.2f %10.1f\n", p.name.c_str(), ms, p.multiply_adds / p.dense_multiply_adds,
                        2 * p.multiply_adds / (p.seconds * 1e9));
        } else {
            elementwise += ms;
            std::printf("%-52s %9.3f\n", p.name.c_str(), ms);
        }
    }
    const double gather_ms = 1e3 * gather / steps, update_ms = 1e3 * update / steps;
    const double step_ms = products + elementwise + gather_ms + update_ms;
    std::printf("%-52s %9.3f\n", "batch from bytes (gather_batch)", gather_ms);
    std::printf("%-52s %9.3f\n", "RMSProp update", update_ms);
    std::printf("%-52s %9.3f %8.2f %10.1f\n", "all products", products, done / dense, 2 * done / steps / (products * 1e6));
    std::printf("%-52s %9.3f  (%.0f images/s, products %.0f%% of the step)\n", "whole step", step_ms,
                B / (step_ms * 1e-3), 100.0 * products / step_ms);
    std::printf("bench_step: products %.1f GFLOPS counted as dense (%.1f MFLOP per step), %.1f GFLOPS of the "
                "multiply-adds done (%.0f%% of the dense count); %.0f%% of a step\n",
                2 * dense / steps / (products * 1e6), 2 * dense / steps / 1e6, 2 * done / (products * 1e6) / steps,
                100.0 * done / dense, 100.0 * products / step_ms);
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc > 1 ? std::atoi(argv[1]) : 300, argc > 2 ? std::atoi(argv[2]) : 0,
                   argc > 3 ? argv[3] : "data/mnist");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_step: %s\n", e.what());
        return 1;
    }
}
