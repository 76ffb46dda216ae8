// Profile of training steps of the 784-625-625-10 model at batch 128 on real MNIST batches (the
// sparsity of the data decides how much work the products that skip zeros do): time of each part
// of forward_backward (products, ReLU and dropout, loss), of building the batch and of the RMSProp
// update, and the GFLOPS of the products counted as dense (555.7 MFLOP per step, the figure a
// dense BLAS would have to reach) and as the multiply-adds actually done; then the share of exact
// zeros in the gradients and the update's time alone. Given a checkpoint, also an evaluation of the
// test set with its weights: its time and the multiply-adds its products do (a trained model's
// activations decide them), which bench.sh sets against this machine's FMA peak.
//   usage: bench_step [STEPS [THREADS [DATA_DIR [CHECKPOINT]]]]   (defaults 300, all cores, data/mnist)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "data_loader/mnist.hpp"
#include "src/checkpoint/checkpoint_file.hpp"
#include "src/model/evaluate.hpp"
#include "src/numerics/kernel_path.hpp"
#include "src/numerics/gemm.hpp"
#include "src/model/mlp.hpp"
#include "src/model/rmsprop.hpp"
#include "src/numerics/rng.hpp"

using namespace mnist;
using Clock = std::chrono::steady_clock;

namespace {
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// An evaluation of `test` with a trained net: the multiply-adds its products do, counted on one
// thread (the profile is one thread's), and its time on `threads`, median of 5.
void profile_evaluation(const Mlp& net, const Dataset& test, int threads) {
    EvalWorkspace ws = make_eval_workspace(net);
    set_compute_threads(1);
    StepProfile counted;
    ws.per_thread[0].profile = &counted;
    evaluate(net, test, ws);
    ws.per_thread[0].profile = nullptr;
    set_compute_threads(threads);
    std::vector<double> seconds;
    for (int r = 0; r < 5; ++r) {
        const auto t = Clock::now();
        evaluate(net, test, ws);
        seconds.push_back(seconds_since(t));
    }
    std::sort(seconds.begin(), seconds.end());
    double done = 0, dense = 0;
    for (const StepProfile::Part& p : counted.parts) {
        if (p.dense_multiply_adds <= 0) continue;
        std::printf("bench_step: evaluation, %s: %.3f G multiply-adds done (density %.2f)\n", p.name.c_str(),
                    p.multiply_adds / 1e9, p.multiply_adds / p.dense_multiply_adds);
        done += p.multiply_adds, dense += p.dense_multiply_adds;
    }
    std::printf("bench_step: evaluation of %zu images: %.4f s (median of 5), %.3f G multiply-adds done "
                "(%.0f%% of the dense count), %.1f GFLOPS on the terms done\n",
                test.size(), seconds[2], done / 1e9, 100 * done / dense, 2 * done / seconds[2] / 1e9);
}

int run(int steps, int threads, const std::string& data_dir, const std::string& checkpoint) {
    std::optional<TrainingState> trained;  // read first: a bad file is reported before the long part
    if (!checkpoint.empty()) trained = read_checkpoint(checkpoint);
    set_compute_threads(threads);
    std::printf("bench_step: product kernels %s (MNIST_KERNEL=avx512|avx2|plain forces one)\n",
                kernel_path_name(kernel_path()));
    const Mnist data = load_mnist(data_dir, 5000);
    if (trained) {
        if (const std::string why = input_mismatch(trained->net, data.test, "the test images in '" + data_dir + "'");
            !why.empty())
            throw std::runtime_error(checkpoint + ": " + why);
    }
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
        rmsprop_step_deferring_momentum(opt, net, ws.grads);
        const double tu = seconds_since(t);
        if (s < 0) continue;
        gather += tg, update += tu;
    }
    // Rows: (name, ms per step, multiply-adds done, dense multiply-adds; 0 for a part that is no product).
    struct Row {
        std::string name;
        double ms, done, dense;
    };
    std::vector<Row> rows;
    for (const StepProfile::Part& p : profile.parts)
        rows.push_back({p.name, 1e3 * p.seconds / steps, p.multiply_adds / steps, p.dense_multiply_adds / steps});
    rows.push_back({"batch from bytes (gather_batch)", 1e3 * gather / steps, 0, 0});
    rows.push_back({"RMSProp update", 1e3 * update / steps, 0, 0});
    double products = 0, step_ms = 0, done = 0, dense = 0;
    for (const Row& r : rows) {
        step_ms += r.ms;
        if (r.dense > 0) products += r.ms, done += r.done, dense += r.dense;
    }
    std::printf("%-52s %9s %7s %8s %10s\n", "part of a step (batch 128, real MNIST batches)", "ms/step", "%step", "density",
                "GFLOPS");
    for (const Row& r : rows) {
        if (r.dense > 0)
            std::printf("%-52s %9.3f %6.1f%% %8.2f %10.1f\n", r.name.c_str(), r.ms, 100 * r.ms / step_ms, r.done / r.dense,
                        2 * r.done / (r.ms * 1e6));
        else
            std::printf("%-52s %9.3f %6.1f%%\n", r.name.c_str(), r.ms, 100 * r.ms / step_ms);
    }
    std::printf("%-52s %9.3f %6.1f%% %8.2f %10.1f\n", "all products", products, 100 * products / step_ms, done / dense,
                2 * done / (products * 1e6));
    std::printf("%-52s %9.3f %6.1f%%\n", "all the rest (outside the products)", step_ms - products,
                100 * (step_ms - products) / step_ms);
    std::printf("%-52s %9.3f  (%.0f images/s)\n", "whole step", step_ms, B / (step_ms * 1e-3));
    std::printf("bench_step: products %.1f GFLOPS counted as dense (%.1f MFLOP per step), %.1f GFLOPS of the "
                "multiply-adds done (%.0f%% of the dense count); %.0f%% of a step\n",
                2 * dense / (products * 1e6), 2 * dense / 1e6, 2 * done / (products * 1e6), 100.0 * done / dense,
                100.0 * products / step_ms);
    // Two figures for the update: the share of 8-float groups of each gradient that are exactly zero
    // (the last step's), and the update alone, called back to back on the same arrays (warm caches),
    // against its time inside the steps above.
    for (size_t l = 0; l < ws.grads.size(); ++l) {
        const float* g = ws.grads[l].data();
        const long groups = long(ws.grads[l].size()) / 8;
        long zero = 0;
        for (long i = 0; i < groups; ++i) {
            bool all = true;
            for (int j = 0; j < 8; ++j) all &= g[8 * i + j] == 0.0f;
            zero += all;
        }
        std::printf("bench_step: gradient of %s: %.0f%% of its 8-float groups exactly zero\n",
                    weight_name(l, ws.grads.size()).c_str(), 100.0 * double(zero) / double(std::max(1L, groups)));
    }
    const int calls = 200;
    const auto t = Clock::now();
    for (int c = 0; c < calls; ++c) rmsprop_step_deferring_momentum(opt, net, ws.grads);
    const double alone = seconds_since(t) / calls;
    long elements = 0;
    for (const Matrix& w : net.weights) elements += long(w.size());
    std::printf("bench_step: RMSProp update alone %.3f ms a call (%.2f ns an element, %d calls back to back), "
                "%.3f ms inside a step\n",
                1e3 * alone, 1e9 * alone / double(elements), calls, 1e3 * update / steps);
    if (trained) profile_evaluation(trained->net, data.test, threads);
    return 0;
}
}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc > 1 ? std::atoi(argv[1]) : 300, argc > 2 ? std::atoi(argv[2]) : 0,
                   argc > 3 ? argv[3] : "data/mnist", argc > 4 ? argv[4] : "");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_step: %s\n", e.what());
        return 1;
    }
}
