// Evaluation: chunks shared out among threads give what a plain row-by-row pass gives, on any team.
#include <catch2/catch.hpp>

#include <omp.h>

#include <algorithm>
#include <stdexcept>

#include "src/model/evaluate.hpp"
#include "src/numerics/gemm.hpp"
#include "src/numerics/rng.hpp"

using namespace mnist;

namespace {
// `count` images of 6 x 7 pixels, labels 0..3. Sparse: about two thirds of the pixels are zero (as
// in MNIST: the first product skips zeros); else none is (it goes through gemm).
Dataset small_dataset(size_t count, bool sparse = true) {
    Dataset d;
    d.rows = 6;
    d.cols = 7;
    for (size_t i = 0; i < count * d.image_size(); ++i) {
        const uint32_t r = random_block(21, Stream::dropout, 0, 0, uint32_t(i))[0];
        d.pixels.push_back(!sparse || r % 3 == 0 ? uint8_t(1 + (r >> 25)) : uint8_t(0));
    }
    for (size_t i = 0; i < count; ++i) d.labels.push_back(uint8_t(random_block(22, Stream::dropout, 0, 0, uint32_t(i))[0] % 4));
    return d;
}

// The plain pass: one image at a time, losses summed in row order, the first of equal maxima.
EvalResult row_by_row(const Mlp& net, const Dataset& data) {
    const int classes = net.sizes.back();
    Workspace ws = make_workspace(net, 1, WorkspaceUse::inference);
    EvalResult r;
    r.count = int64_t(data.size());
    r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
    double loss_sum = 0;
    for (size_t i = 0; i < data.size(); ++i) {
        gather_batch(data, nullptr, i, 1, ws.input.data());
        forward_logits(net, ws, 1);
        const float* z = ws.logits.data();
        loss_sum += softmax_cross_entropy(z, 1, classes, &data.labels[i], nullptr);
        int best = 0;
        for (int c = 1; c < classes; ++c)
            if (z[c] > z[best]) best = c;
        ++r.confusion[data.labels[i]][best];
        if (best == data.labels[i]) ++r.correct;
        else r.errors.push_back(uint32_t(i)), r.error_predictions.push_back(uint8_t(best));
    }
    r.loss = loss_sum / double(data.size());
    r.accuracy = double(r.correct) / double(data.size());
    return r;
}

void check_same(const EvalResult& a, const EvalResult& b) {
    CHECK(a.count == b.count);
    CHECK(a.correct == b.correct);
    CHECK(a.accuracy == b.accuracy);
    // Each row's logits have the same bits in any chunk: every path sums each element in k order.
    CHECK(a.loss == b.loss);
    CHECK(a.confusion == b.confusion);
    CHECK(a.errors == b.errors);
    CHECK(a.error_predictions == b.error_predictions);
}
}  // namespace

TEST_CASE("evaluate: chunks shared among threads give the plain row-by-row result on 1, 2 and 3 threads", "[evaluate]") {
    const Mlp net = init_mlp({42, 30, 25, 4}, 3, 0.3f);
    // 8 chunks, the last one partial; with dense images the threads' first products run through
    // gemm side by side.
    const bool sparse = GENERATE(true, false);
    INFO((sparse ? "sparse" : "dense") << " images");
    const Dataset data = small_dataset(1000, sparse);
    const EvalResult plain = row_by_row(net, data);
    REQUIRE(plain.correct > 0);
    REQUIRE(!plain.errors.empty());
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3}) {
        INFO(threads << " threads");
        set_compute_threads(threads);
        EvalWorkspace ws = make_eval_workspace(net);
        CHECK(ws.per_thread.size() == size_t(threads));
        const EvalResult r = evaluate(net, data, ws);
        check_same(r, plain);
        // Per-class accuracy is the confusion matrix's diagonal over its rows.
        for (int c = 0; c < 4; ++c) {
            int64_t total = 0;
            for (int64_t v : r.confusion[c]) total += v;
            CHECK(r.per_class_accuracy[c] == Approx(double(r.confusion[c][c]) / double(total)));
        }
        CHECK(std::is_sorted(r.errors.begin(), r.errors.end()));
    }
    set_compute_threads(saved);
}

TEST_CASE("evaluate: a workspace made for a smaller team grows to the team it runs on", "[evaluate]") {
    const Mlp net = init_mlp({42, 30, 4}, 4, 0.3f);
    const Dataset data = small_dataset(500);
    const int saved = omp_get_max_threads();
    set_compute_threads(1);
    EvalWorkspace ws = make_eval_workspace(net);
    const EvalResult one = evaluate(net, data, ws);
    set_compute_threads(3);
    const EvalResult three = evaluate(net, data, ws);
    set_compute_threads(saved);
    CHECK(ws.per_thread.size() == 3);
    check_same(three, one);
}

TEST_CASE("evaluate: a network that takes another image size is refused, naming both sizes", "[evaluate]") {
    const Mlp net = init_mlp({40, 30, 4}, 6, 0.3f);  // the data's images have 42 pixels
    const Dataset data = small_dataset(10);
    CHECK(input_mismatch(net, data, "the test images") == "the network takes 40 inputs but the test images have 42 pixels");
    CHECK(input_mismatch(init_mlp({42, 30, 4}, 6, 0.3f), data, "the test images").empty());
    EvalWorkspace ws = make_eval_workspace(net);
    CHECK_THROWS_WITH(evaluate(net, data, ws), "the network takes 40 inputs but the images have 42 pixels");
    CHECK_THROWS_AS(evaluate(net, data, ws), std::invalid_argument);
}

TEST_CASE("evaluate: an empty data set gives zero counts and no errors", "[evaluate]") {
    const Mlp net = init_mlp({42, 30, 4}, 5, 0.3f);
    EvalWorkspace ws = make_eval_workspace(net);
    const EvalResult r = evaluate(net, small_dataset(0), ws);
    CHECK(r.count == 0);
    CHECK(r.correct == 0);
    CHECK(r.accuracy == 0.0);
    CHECK(r.loss == 0.0);
    CHECK(r.errors.empty());
    CHECK(r.per_class_accuracy == std::vector<double>(4, 0.0));
}
