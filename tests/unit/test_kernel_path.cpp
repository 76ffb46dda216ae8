// The kernel paths (AVX-512, AVX2/FMA, plain std::fma) chosen at run time: every path this CPU
// supports gives the plain reference's bits, products and updates alike, and a whole training
// writes the same checkpoint bytes under each.
#include <catch2/catch.hpp>

#include <cmath>
#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/checkpoint/safetensors.hpp"
#include "src/errors.hpp"
#include "src/numerics/elementwise.hpp"
#include "src/numerics/gemm.hpp"
#include "src/numerics/kernel_path.hpp"
#include "src/numerics/rng.hpp"
#include "src/numerics/sparse.hpp"
#include "src/numerics/update.hpp"
#include "src/train/trainer.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;

namespace {

std::vector<KernelPath> supported_paths() { return supported_kernel_paths(); }

// Runs under `path`, then puts back the path that was active.
struct OnPath {
    KernelPath before = kernel_path();
    explicit OnPath(KernelPath path) { set_kernel_path(path); }
    ~OnPath() { set_kernel_path(before); }
};

// Runs of 200 zeros every 1000 elements, as an image's blank border has, over whole groups of 32
// at any offset: +0 only (dropout draws no words there), or +0 with one -0 (which a kept mask
// leaves -0, a dropped one makes +0).
void add_blank_runs(std::vector<float>& x) {
    for (size_t i = 1000; i + 200 <= x.size(); i += 1000) {
        std::fill(x.begin() + long(i), x.begin() + long(i) + 200, 0.0f);
        if (i % 2000 == 0) x[i + 100] = -0.0f;
    }
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// An n-value matrix, about `density` non-zero (some zeros -0.0), values of every magnitude.
std::vector<float> values(size_t n, double density, uint32_t layer) {
    std::vector<float> v = testutil::normal_values(n, 5, layer);
    for (size_t i = 0; i < n; ++i) {
        const uint32_t r = random_block(13, Stream::dropout, layer, 0, uint32_t(i))[0];
        if (uniform01(r) >= density) v[i] = i % 2 ? -0.0f : 0.0f;
        else if (i % 7 == 0) v[i] *= 1e-3f;
    }
    return v;
}

// C = op(A) op(B), each element one std::fma chain over k in plain order from +0.
std::vector<float> fma_chain(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B) {
    std::vector<float> C(size_t(m) * n);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            float s = 0.0f;
            for (int p = 0; p < k; ++p)
                s = std::fma(ta == Trans::N ? A[size_t(i) * k + p] : A[size_t(p) * m + i],
                             tb == Trans::N ? B[size_t(p) * n + j] : B[size_t(j) * k + p], s);
            C[size_t(i) * n + j] = s;
        }
    return C;
}

struct Shape {
    int m, n, k;
};
// Edges of every blocking: 1, partial register blocks, partial tiles, k past one panel.
const Shape kShapes[] = {{1, 1, 1}, {7, 17, 5}, {6, 16, 3}, {13, 130, 33}, {97, 65, 785}, {128, 10, 625}, {5, 3, 0}};

}  // namespace

TEST_CASE("kernel_path: gemm on every path this CPU supports gives the plain FMA chain's bits on awkward shapes",
          "[kernel_path]") {
    set_compute_threads(2);
    for (KernelPath path : supported_paths()) {
        OnPath on(path);
        for (const Shape& s : kShapes)
            for (Trans ta : {Trans::N, Trans::T})
                for (Trans tb : {Trans::N, Trans::T}) {
                    const std::vector<float> A = values(size_t(s.m) * s.k, 0.5, 1), B = values(size_t(s.k) * s.n, 0.9, 2);
                    std::vector<float> C(size_t(s.m) * s.n, -7.0f);
                    gemm(ta, tb, s.m, s.n, s.k, A.data(), B.data(), C.data());
                    INFO(kernel_path_name(path) << ": " << s.m << "x" << s.n << "x" << s.k << " ta " << int(ta) << " tb "
                                                << int(tb));
                    REQUIRE(same_bits(C, fma_chain(ta, tb, s.m, s.n, s.k, A.data(), B.data())));
                }
    }
}

TEST_CASE("kernel_path: gemm's kernels for a narrow B (w_o's gradient) and a short k (the product back through w_o) "
          "give the FMA chain's bits on 1, 2 and 3 threads, infs and NaNs included",
          "[kernel_path]") {
    // op(A)^T B with B at most 16 columns, and A B^T with k at most 16: each has its own kernel on
    // the vector paths. The shapes cut their blocks every way: rows in groups of 16, then 8, then
    // one at a time (625 = 39 x 16 + 1, 24 = 16 + 8, 9 = 8 + 1); columns of C in blocks of 48 and
    // a part of a vector (625 = 13 x 48 + 1, 49, 17); k and n at the limit of 16 and past it.
    const Shape narrow[] = {{625, 10, 128}, {24, 16, 7}, {9, 11, 17}, {16, 1, 3}, {40, 6, 300}, {5, 17, 4}};
    const Shape short_k[] = {{128, 625, 10}, {7, 17, 5}, {3, 48, 16}, {1, 49, 1}, {33, 100, 2}, {6, 20, 17}};
    const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
    const auto run = [&](Trans ta, Trans tb, const Shape& s) {
        std::vector<float> A = values(size_t(s.m) * s.k, 0.5, 8), B = values(size_t(s.k) * s.n, 0.7, 9);
        A[A.size() / 3] = inf;  // meets zeros of B (NaN) and non-zeros (inf) in its chains
        B[B.size() / 2] = -inf;
        B[B.size() - 1] = nan;
        const std::vector<float> expected = fma_chain(ta, tb, s.m, s.n, s.k, A.data(), B.data());
        for (KernelPath path : supported_paths()) {
            OnPath on(path);
            for (int threads : {1, 2, 3}) {
                set_compute_threads(threads);
                std::vector<float> C(size_t(s.m) * s.n, -7.0f);
                gemm(ta, tb, s.m, s.n, s.k, A.data(), B.data(), C.data());
                INFO(kernel_path_name(path) << ", " << threads << " threads: " << s.m << "x" << s.n << "x" << s.k);
                REQUIRE(same_bits(C, expected));
            }
        }
    };
    for (const Shape& s : narrow) run(Trans::T, Trans::N, s);
    for (const Shape& s : short_k) run(Trans::N, Trans::T, s);
    set_compute_threads(2);
}

TEST_CASE("kernel_path: sparse products, compression and the RMSProp update give the same bits on every path",
          "[kernel_path]") {
    set_compute_threads(2);
    const int m = 131, k = 300, n = 77;
    const std::vector<float> A = values(size_t(m) * k, 0.2, 3), B = values(size_t(k) * n, 1.0, 4);
    const std::vector<float> expected = fma_chain(Trans::N, Trans::N, m, n, k, A.data(), B.data());
    // The update over more elements than one thread takes, not a whole number of vectors; the
    // reference is the documented formula (update.hpp), one element at a time.
    const long u = 70001;
    const std::vector<float> grad = values(size_t(u), 0.9, 5), var0 = values(size_t(u), 1.0, 7);
    const RmsPropScalars rs{0.001f, 0.1f, 0.9f, 1e-10f};
    std::vector<float> plain_update = var0, ms0(size_t(u), 1.0f), mom0(size_t(u), 0.0f);
    for (int step = 0; step < 3; ++step)
        for (long i = 0; i < u; ++i) {
            const float g = grad[size_t(i)];
            ms0[size_t(i)] = std::fma(std::fma(g, g, -ms0[size_t(i)]), rs.one_minus_decay, ms0[size_t(i)]);
            mom0[size_t(i)] = std::fma(mom0[size_t(i)], rs.momentum, (g * rs.learning_rate) / std::sqrt(ms0[size_t(i)] + rs.epsilon));
            plain_update[size_t(i)] -= mom0[size_t(i)];
        }
    plain_update.insert(plain_update.end(), ms0.begin(), ms0.end());
    plain_update.insert(plain_update.end(), mom0.begin(), mom0.end());
    for (KernelPath path : {KernelPath::plain, KernelPath::avx2, KernelPath::avx512}) {
        if (!cpu_supports(path)) continue;
        OnPath on(path);
        INFO(kernel_path_name(path));
        SparseRows S;
        std::vector<float> C(size_t(m) * n, -1.0f), parts(size_t(m) * n, -2.0f), packed(size_t(m) * n, -3.0f);
        gemm_skip_zeros(Trans::N, Trans::N, m, n, k, A.data(), B.data(), C.data(), S);
        CHECK(same_bits(C, expected));
        // The same chains in two calls of rows, each going on from the sums C holds (+0 here).
        std::fill(parts.begin(), parts.end(), 0.0f);
        sparse_gemm_go_on(S, 0, 40, Trans::N, n, B.data(), parts.data());
        sparse_gemm_go_on(S, 40, m, Trans::N, n, B.data(), parts.data());
        CHECK(same_bits(parts, expected));
        const PackedB pb(Trans::N, k, n, B.data());
        sparse_gemm(S, pb, packed.data());
        CHECK(same_bits(packed, expected));
        std::vector<float> var = var0, ms(size_t(u), 1.0f), mom(size_t(u), 0.0f);
        for (int step = 0; step < 3; ++step) rmsprop_update(rs, var.data(), ms.data(), mom.data(), grad.data(), u);
        var.insert(var.end(), ms.begin(), ms.end());
        var.insert(var.end(), mom.begin(), mom.end());
        CHECK(same_bits(var, plain_update));
    }
}

TEST_CASE("kernel_path: a forward or backward product of one batch is split into as many column blocks as the "
          "threads, or a multiple, and gives the plain FMA chain's bits on 1 to 4 threads and every path",
          "[kernel_path]") {
    // One chunk of rows (a batch of 128) and k past one panel: each task is a whole block of columns,
    // and the blocks are rounded up to a multiple of the threads (on AVX-512, 625 columns are 5 blocks
    // of 128 on one thread, 6 of 104-112 on two, 6 on three, 8 on four): uneven widths, same bits.
    const int m = 128, k = 784;
    const std::vector<float> A = values(size_t(m) * k, 0.15, 11);
    for (int n : {10, 129, 200, 625}) {
        const std::vector<float> B = values(size_t(k) * n, 1.0, 12);
        for (Trans tb : {Trans::N, Trans::T}) {
            const std::vector<float> expected = fma_chain(Trans::N, tb, m, n, k, A.data(), B.data());
            for (KernelPath path : supported_paths()) {
                OnPath on(path);
                for (int threads : {1, 2, 3, 4}) {
                    set_compute_threads(threads);
                    SparseRows S;
                    compress(Trans::N, m, k, A.data(), S);
                    std::vector<float> C(size_t(m) * n, -1.0f);
                    sparse_gemm(S, tb, n, B.data(), C.data());
                    INFO(kernel_path_name(path) << ": n " << n << " tb " << int(tb) << ", " << threads << " threads");
                    CHECK(same_bits(C, expected));
                }
            }
        }
    }
    set_compute_threads(2);
}

TEST_CASE("kernel_path: dropout masks and the gradient through ReLU and dropout give the same bits on every path",
          "[kernel_path]") {
    set_compute_threads(2);
    const size_t n = 70001;  // several threads' worth, and not whole groups of 32
    std::vector<float> x = values(n, 0.7, 8);
    for (size_t i = 0; i < n; i += 997) x[i] = i % 2 ? -x[i] : std::nanf("");
    add_blank_runs(x);
    // The reference: each element's word straight from random_block, one division.
    const float keep = 0.8f;
    const uint64_t seed = 12345;
    const uint32_t a = 77, b = 2;
    for (bool relu : {false, true})
        // Slices starting inside a group, as a rank's rows do; with offset 31 the slice spans an odd
        // number of groups (AVX-512 masks two at a time).
        for (size_t offset : {size_t(0), size_t(31), size_t(45)}) {
            std::vector<float> expected = x;
            for (size_t i = 0; i < n; ++i) {
                const size_t e = offset + i, g = e / 32, w = (e % 32) / 8, l = e % 8;
                const uint32_t word = random_block(seed, Stream::dropout, a, b, uint32_t(8 * g + l))[w];
                float& v = expected[i];
                v = (uniform01(word) < keep && (!relu || v > 0.0f)) ? v / keep : 0.0f;
            }
            for (KernelPath path : supported_paths()) {
                OnPath on(path);
                INFO(kernel_path_name(path) << " relu " << relu << " offset " << offset);
                std::vector<float> got = x;
                dropout_inplace(got.data(), n, offset, keep, relu, seed, a, b);
                CHECK(same_bits(got, expected));
            }
        }
    const std::vector<float> h = values(n, 0.4, 9), dh = values(n, 1.0, 10);
    std::vector<float> expected = dh;
    for (size_t i = 0; i < n; ++i) expected[i] = h[i] > 0.0f ? dh[i] / 0.5f : 0.0f;
    for (KernelPath path : supported_paths()) {
        OnPath on(path);
        std::vector<float> got = dh;
        through_activation(got.data(), h.data(), n, 0.5f);
        INFO(kernel_path_name(path));
        CHECK(same_bits(got, expected));
    }
}

namespace {
// S and T list the same entries (index and value bits) in every row, each row ended by the sentinel.
bool same_lists(const SparseRows& S, const SparseRows& T) {
    if (S.rows != T.rows || S.cols != T.cols) return false;
    for (int r = 0; r < S.rows; ++r) {
        if (S.count[r] != T.count[r] || S.row(r)[S.count[r]].index != std::numeric_limits<int32_t>::max()) return false;
        for (int q = 0; q < S.count[r]; ++q)
            if (S.row(r)[q].index != T.row(r)[q].index ||
                std::memcmp(&S.row(r)[q].value, &T.row(r)[q].value, sizeof(float)) != 0)
                return false;
    }
    return true;
}
}  // namespace

TEST_CASE("kernel_path: dropout with the non-zeros listed in the same pass gives dropout's bits and compress's "
          "lists on every path",
          "[kernel_path]") {
    // NaN, -0.0 and negative values included; rows as wide as a hidden layer, an image, and a width
    // that cuts groups of 32 everywhere; slices starting inside a group, as a rank's rows do.
    const size_t n = 70001;
    std::vector<float> x = values(n, 0.7, 11);
    for (size_t i = 0; i < n; i += 997) x[i] = i % 2 ? -x[i] : std::nanf("");
    add_blank_runs(x);
    const uint64_t seed = 99;
    const uint32_t a = 5, b = 1;
    for (bool relu : {false, true})
        for (size_t offset : {size_t(0), size_t(31), size_t(45)})
            for (int cols : {45, 625, 784}) {
                const int rows = int(n / cols);
                const size_t count = size_t(rows) * cols;
                std::vector<float> expected(x.begin(), x.begin() + count);
                dropout_inplace(expected.data(), count, offset, 0.8f, relu, seed, a, b);  // on the active path
                SparseRows listed;
                compress(Trans::N, rows, cols, expected.data(), listed);
                for (KernelPath path : supported_paths()) {
                    OnPath on(path);
                    for (int threads : {1, 2, 3}) {
                        set_compute_threads(threads);
                        std::vector<float> got(x.begin(), x.begin() + count);
                        SparseRows S;
                        dropout_compress(rows, cols, got.data(), offset, 0.8f, relu, seed, a, b, S);
                        INFO(kernel_path_name(path) << " relu " << relu << " offset " << offset << " cols " << cols
                                                    << ", " << threads << " threads");
                        CHECK(same_bits(got, expected));
                        CHECK(same_lists(S, listed));
                    }
                }
            }
    set_compute_threads(2);
}

TEST_CASE("kernel_path: a packed operand is refused under another kernel path", "[kernel_path]") {
    const std::vector<KernelPath> paths = supported_paths();
    if (paths.size() < 2) return;  // this CPU has only the plain path
    const std::vector<float> B(20 * 8, 1.0f);
    std::vector<float> C(3 * 8);
    SparseRows S;
    compress(Trans::N, 3, 20, std::vector<float>(60, 1.0f).data(), S);
    std::unique_ptr<PackedB> pb;
    {
        OnPath on(paths[0]);
        pb = std::make_unique<PackedB>(Trans::N, 20, 8, B.data());
    }
    OnPath on(paths[1]);
    CHECK_THROWS_AS(sparse_gemm(S, *pb, C.data()), std::invalid_argument);
}

TEST_CASE("kernel_path: MNIST_KERNEL naming no path, or one this CPU lacks, is refused with a message",
          "[kernel_path]") {
    CHECK_THROWS_WITH(kernel_path_named("sse9"), Catch::Contains("MNIST_KERNEL") && Catch::Contains("avx512, avx2 or plain") &&
                                                     Catch::Contains("\"sse9\""));
    CHECK_THROWS_AS(kernel_path_named("AVX2"), ConfigError);
    CHECK(kernel_path_named("plain") == KernelPath::plain);
    for (KernelPath p : {KernelPath::avx512, KernelPath::avx2}) {
        if (cpu_supports(p)) CHECK(kernel_path_named(kernel_path_name(p)) == p);
        else {
            CHECK_THROWS_WITH(kernel_path_named(kernel_path_name(p)), Catch::Contains("lacks"));
            CHECK_THROWS_AS(set_kernel_path(p), ConfigError);
        }
    }
    // As on a CPU without AVX-512, and on one with neither AVX-512 nor AVX2.
    CHECK_THROWS_WITH(kernel_path_named("avx512", {KernelPath::avx2, KernelPath::plain}),
                      Catch::Contains("MNIST_KERNEL") && Catch::Contains("(avx2, plain)") &&
                          Catch::Contains("\"avx512\"") && Catch::Contains("AVX-512") && Catch::Contains("lacks"));
    CHECK_THROWS_WITH(kernel_path_named("avx2", {KernelPath::plain}),
                      Catch::Contains("(plain)") && Catch::Contains("\"avx2\"") && Catch::Contains("AVX2 and FMA"));
    CHECK(kernel_path_named("avx2", {KernelPath::avx2, KernelPath::plain}) == KernelPath::avx2);
}

TEST_CASE("kernel_path: the same short training writes identical checkpoints under every path", "[kernel_path]") {
    // 600 training images, batches of 16, two epochs: 76 steps, enough to learn (a training that
    // stood still would compare nothing); the input layer's product runs dense, the others sparse.
    testutil::TrainingFixture f(700, 60);
    std::vector<std::vector<Tensor>> finals;
    for (KernelPath path : supported_paths()) {
        OnPath on(path);
        TrainConfig c = f.config_in(kernel_path_name(path));
        c.epochs = 2;
        testutil::run(c);
        const std::vector<uint8_t> bytes = testutil::read_bytes(latest_checkpoint(c.ckpt_dir));
        finals.push_back(decode_safetensors(bytes, c.ckpt_dir).tensors);
    }
    for (size_t p = 1; p < finals.size(); ++p) {
        INFO(kernel_path_name(supported_paths()[p]) << " vs " << kernel_path_name(supported_paths()[0]));
        REQUIRE(finals[p].size() == finals[0].size());
        for (size_t i = 0; i < finals[0].size(); ++i) {
            INFO("tensor " << finals[0][i].name);
            REQUIRE(finals[p][i].bytes == finals[0][i].bytes);
        }
    }
}
