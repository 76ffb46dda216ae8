// Products that skip the zero terms of their left operand: the same bits as gemm, on any thread count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <omp.h>

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <utility>

#include "src/numerics/gemm.hpp"
#include "src/numerics/rng.hpp"
#include "src/numerics/sparse.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;

namespace {
std::vector<float> dense_matrix(size_t n, uint32_t layer) { return testutil::normal_values(n, 7, layer); }

// An m x k matrix (row-major) with about `density` of its entries non-zero; every third zero is -0.0.
std::vector<float> sparse_matrix(int m, int k, double density, uint32_t layer) {
    std::vector<float> v = dense_matrix(size_t(m) * k, layer);
    for (size_t i = 0; i < v.size(); ++i) {
        const uint32_t r = random_block(11, Stream::dropout, layer, 0, uint32_t(i))[0];
        if (uniform01(r) >= density) v[i] = (i % 3 == 0) ? -0.0f : 0.0f;
    }
    return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// op(A) * op(B) through gemm_skip_zeros and through gemm; also checks both against the
// double-precision triple loop.
void check_against_gemm(Trans ta, Trans tb, int m, int n, int k, double density) {
    const std::vector<float> A = sparse_matrix(ta == Trans::N ? m : k, ta == Trans::N ? k : m, density, 1);
    const std::vector<float> B = dense_matrix(size_t(k) * n, 2);
    std::vector<float> fast(size_t(m) * n, -1.0f), dense(size_t(m) * n, -2.0f), ref(size_t(m) * n);
    SparseRows scratch;
    gemm_skip_zeros(ta, tb, m, n, k, A.data(), B.data(), fast.data(), scratch);
    gemm(ta, tb, m, n, k, A.data(), B.data(), dense.data());
    gemm_reference(ta, tb, m, n, k, A.data(), B.data(), ref.data());
    INFO("op(A) " << m << "x" << k << (ta == Trans::T ? " (A transposed)" : "") << ", n " << n
                  << (tb == Trans::T ? " (B transposed)" : "") << ", density " << density);
    for (size_t i = 0; i < ref.size(); ++i) REQUIRE(fast[i] == Approx(ref[i]).margin(1e-4 * std::sqrt(double(k))));
    CHECK(same_bits(fast, dense));
}
// sparse_gemm(S, op(B)) == sparse_gemm_reference bit for bit, for B stored either way and n of
// each of `widths` (B's values drawn for `layer`).
void require_kernel_equals_reference(const SparseRows& S, const std::vector<int>& widths, uint32_t layer) {
    const int m = S.rows, k = S.cols;
    for (Trans tb : {Trans::N, Trans::T})
        for (int n : widths) {
            const std::vector<float> B = dense_matrix(size_t(k) * n, layer);
            std::vector<float> fast(size_t(m) * n, -1.0f), ref(size_t(m) * n, -2.0f);
            sparse_gemm(S, tb, n, B.data(), fast.data());
            sparse_gemm_reference(S, tb, n, B.data(), ref.data());
            INFO("n " << n << (tb == Trans::T ? ", B transposed" : ""));
            REQUIRE(same_bits(fast, ref));
        }
}
}  // namespace

TEST_CASE("sparse: compress lists every non-zero of a matrix, and of its transpose, in increasing order", "[sparse]") {
    const int m = 37, k = 70;
    const std::vector<float> A = sparse_matrix(m, k, 0.3, 3);
    SparseRows rows, cols;
    compress(Trans::N, m, k, A.data(), rows);
    compress(Trans::T, k, m, A.data(), cols);  // op(A) = A^T, k x m
    REQUIRE(rows.rows == m);
    REQUIRE(rows.cols == k);
    REQUIRE(cols.rows == k);
    REQUIRE(cols.cols == m);
    int64_t nonzeros = 0;
    for (int i = 0; i < m; ++i) {
        int seen = 0;
        for (int p = 0; p < k; ++p) {
            const float a = A[size_t(i) * k + p];
            if (a == 0.0f) continue;
            ++nonzeros;
            REQUIRE(seen < rows.count[i]);
            const SparseRows::Entry e = rows.row(i)[seen++];
            CHECK(e.index == p);
            CHECK(e.value == a);
        }
        CHECK(seen == rows.count[i]);
        CHECK(rows.row(i)[seen].index == std::numeric_limits<int32_t>::max());  // the row's sentinel
    }
    for (int p = 0; p < k; ++p) {
        int seen = 0;
        for (int i = 0; i < m; ++i) {
            const float a = A[size_t(i) * k + p];
            if (a == 0.0f) continue;
            REQUIRE(seen < cols.count[p]);
            const SparseRows::Entry e = cols.row(p)[seen++];
            CHECK(e.index == i);
            CHECK(e.value == a);
        }
        CHECK(seen == cols.count[p]);
        CHECK(cols.row(p)[seen].index == std::numeric_limits<int32_t>::max());
    }
    CHECK(rows.nonzeros() == nonzeros);
    CHECK(cols.nonzeros() == nonzeros);
    CHECK(nonzeros > 0);
    CHECK(nonzeros < int64_t(m) * k / 2);
}

TEST_CASE("sparse: the vector kernel equals the scalar FMA reference bit for bit at every block width", "[sparse]") {
    const int m = 45, k = 300;  // rows in groups of 4 and alone; k spans several k-chunks of the wide blocks
    const std::vector<float> A = sparse_matrix(m, k, 0.25, 4);
    SparseRows S;
    compress(Trans::N, m, k, A.data(), S);
    std::vector<int> widths(130);  // every width of a block (64 columns with AVX2, 128 with AVX-512), and more
    std::iota(widths.begin(), widths.end(), 1);
    widths.push_back(625);
    require_kernel_equals_reference(S, widths, 5);
}

TEST_CASE("sparse: narrow blocks, rows taken four at a time, equal the scalar reference across k-chunks", "[sparse]") {
    // k = 2000 spans several k-chunks even of a one-vector block (its panel holds 768 or 1536 rows),
    // so the rows' sums go on from C; uneven rows end the four-row lockstep at different entries.
    const int m = 23, k = 2000;
    std::vector<float> A = sparse_matrix(m, k, 0.3, 16);
    for (int p = 0; p < k; ++p) A[size_t(5) * k + p] = 0.0f;      // an empty row
    for (int p = 0; p < k / 2; ++p) A[size_t(9) * k + p] = 0.0f;  // a row empty in the first chunks
    for (int p = k / 3; p < k; ++p) A[size_t(14) * k + p] = 0.0f; // a row that ends early
    SparseRows S;
    compress(Trans::N, m, k, A.data(), S);
    std::vector<int> widths(33);  // one and two vectors of AVX2 and AVX-512, and one more
    std::iota(widths.begin(), widths.end(), 1);
    require_kernel_equals_reference(S, widths, 17);
}

TEST_CASE("sparse: a product from B packed once equals the product that packs B itself, bit for bit", "[sparse]") {
    const int m = 300, k = 250;  // several chunks of rows and k-chunks, on the team
    const std::vector<float> A = sparse_matrix(m, k, 0.2, 12);
    SparseRows S;
    compress(Trans::N, m, k, A.data(), S);
    for (Trans tb : {Trans::N, Trans::T})
        for (int n : {1, 10, 64, 129, 625}) {
            const std::vector<float> B = dense_matrix(size_t(k) * n, 13);
            const PackedB packed(tb, k, n, B.data());
            CHECK(packed.rows() == k);
            CHECK(packed.cols() == n);
            std::vector<float> once(size_t(m) * n, -1.0f), each(size_t(m) * n, -2.0f);
            sparse_gemm(S, packed, once.data());
            sparse_gemm(S, tb, n, B.data(), each.data());
            INFO("n " << n << (tb == Trans::T ? ", B transposed" : ""));
            CHECK(same_bits(once, each));
            // Through gemm_sparse_or_dense as the model calls it.
            std::fill(once.begin(), once.end(), -3.0f);
            gemm_sparse_or_dense(Trans::N, tb, A.data(), S, n, B.data(), once.data(), &packed);
            CHECK(same_bits(once, each));
        }
}

TEST_CASE("sparse: a product from a packed B of the wrong height is refused", "[sparse]") {
    const std::vector<float> A = sparse_matrix(4, 12, 0.5, 14), B = dense_matrix(size_t(11) * 16, 15);
    SparseRows S;
    compress(Trans::N, 4, 12, A.data(), S);
    const PackedB packed(Trans::N, 11, 16, B.data());
    std::vector<float> C(4 * 16);
    CHECK_THROWS_AS(sparse_gemm(S, packed, C.data()), std::invalid_argument);
}

TEST_CASE("sparse: skipping zeros gives gemm's bits at the model's shapes and at edge shapes", "[sparse]") {
    for (double density : {0.0, 0.15, 0.5, 0.9}) {
        check_against_gemm(Trans::N, Trans::N, 128, 625, 784, density);  // x * w_h
        check_against_gemm(Trans::T, Trans::N, 784, 625, 128, density);  // x^T * d: gradient of w_h
        check_against_gemm(Trans::N, Trans::T, 128, 625, 625, density);  // d * w_h2^T: backward through w_h2
        check_against_gemm(Trans::N, Trans::N, 128, 10, 625, density);   // h2 * w_o
        check_against_gemm(Trans::T, Trans::N, 625, 10, 128, density);   // gradient of w_o
        check_against_gemm(Trans::N, Trans::N, 1, 1, 1, density);
        check_against_gemm(Trans::T, Trans::T, 70, 131, 9, density);
        check_against_gemm(Trans::N, Trans::T, 13, 29, 37, density);
    }
}

TEST_CASE("sparse: a NaN in the left operand poisons its outputs as it does in gemm", "[sparse]") {
    const int m = 4, n = 16, k = 12;
    std::vector<float> A = sparse_matrix(m, k, 0.2, 6);
    A[size_t(2) * k + 5] = std::numeric_limits<float>::quiet_NaN();
    const std::vector<float> B = dense_matrix(size_t(k) * n, 7);
    std::vector<float> C(size_t(m) * n);
    SparseRows S;
    gemm_skip_zeros(Trans::N, Trans::N, m, n, k, A.data(), B.data(), C.data(), S);
    for (int j = 0; j < n; ++j) {
        CHECK(std::isnan(C[size_t(2) * n + j]));
        CHECK_FALSE(std::isnan(C[size_t(1) * n + j]));
    }
}

TEST_CASE("sparse: products are bit-identical on 1, 2 and 3 threads", "[sparse]") {
    const int m = 300, n = 200, k = 250;
    const std::vector<float> A = sparse_matrix(k, m, 0.2, 8), B = dense_matrix(size_t(k) * n, 9);
    std::vector<std::vector<float>> out;
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3}) {
        set_compute_threads(threads);
        std::vector<float> C(size_t(m) * n);
        SparseRows S;
        gemm_skip_zeros(Trans::T, Trans::N, m, n, k, A.data(), B.data(), C.data(), S);
        out.push_back(C);
    }
    set_compute_threads(saved);
    CHECK(same_bits(out[0], out[1]));
    CHECK(same_bits(out[0], out[2]));
}

namespace {
// sparse_gemm(S, B) (B row-major, S.cols x n) on each of `thread_counts` threads, and with `packed`
// also from B packed once, each checked bit for bit against the scalar reference.
void check_on_threads_against_reference(const SparseRows& S, const std::vector<float>& B, int n,
                                        std::initializer_list<int> thread_counts, bool packed) {
    const size_t size = size_t(S.rows) * size_t(n);
    std::vector<float> ref(size);
    sparse_gemm_reference(S, Trans::N, n, B.data(), ref.data());
    const int saved = omp_get_max_threads();
    for (int threads : thread_counts) {
        set_compute_threads(threads);
        INFO(threads << " threads");
        std::vector<float> C(size, -1.0f);
        sparse_gemm(S, Trans::N, n, B.data(), C.data());
        CHECK(same_bits(C, ref));
        if (packed) {
            std::vector<float> from_packed(size, -1.0f);
            sparse_gemm(S, PackedB(Trans::N, S.cols, n, B.data()), from_packed.data());
            CHECK(same_bits(from_packed, ref));
        }
    }
    set_compute_threads(saved);
}

}  // namespace

TEST_CASE("sparse: a weight gradient's product (k = the batch's rows, rows of C in many chunks) equals the scalar "
          "reference on 1, 2 and 3 threads", "[sparse]") {
    // The shape of w_h's gradient: op(A) = X^T (784 x 128), B = the gradient below (128 x 625).
    // One panel holds a block's whole B, so a task takes several chunks of rows; how many depends on
    // the thread count, the bits must not.
    const int m = 784, k = 128, n = 625;
    const std::vector<float> A = sparse_matrix(k, m, 0.15, 12), B = dense_matrix(size_t(k) * n, 13);
    SparseRows S;
    compress(Trans::T, m, k, A.data(), S);
    check_on_threads_against_reference(S, B, n, {1, 2, 3}, false);
}

TEST_CASE("sparse: a batch's forward product (one chunk of rows, column blocks handed out spread over the "
          "threads) equals the scalar reference on 1 to 4 threads, B packed or not", "[sparse]") {
    // The shape of the forward product with w_h: 128 rows of 784 at density 0.15 times 784 x 625.
    // With one chunk of rows, the blocks go out in an order that depends on the thread count
    // (spread apart on 2, 3 and 4 threads; in order for a packed B on 3): the bits must not.
    const int m = 128, k = 784, n = 625;
    const std::vector<float> A = sparse_matrix(m, k, 0.15, 14), B = dense_matrix(size_t(k) * n, 15);
    SparseRows S;
    compress(Trans::N, m, k, A.data(), S);
    check_on_threads_against_reference(S, B, n, {1, 2, 3, 4}, true);
}

TEST_CASE("sparse: a product at most two vectors wide, its rows shared out among the threads, equals the scalar "
          "reference on 1 to 4 threads, B packed or not", "[sparse]") {
    // The shape of the forward product with w_o (h2 * w_o, 10 columns) and of its neighbours in
    // width; 258 rows cut into shares of a multiple of 4 rows leave each thread a short last share.
    const int m = 258, k = 625;
    const std::vector<float> A = sparse_matrix(m, k, 0.31, 18);
    SparseRows S;
    compress(Trans::N, m, k, A.data(), S);
    for (int n : {2, 7, 8, 10, 16, 17, 32}) {
        INFO("n " << n);
        check_on_threads_against_reference(S, dense_matrix(size_t(k) * n, 19), n, {1, 2, 3, 4}, true);
    }
}

TEST_CASE("sparse: a product with no rows, or no columns, writes nothing", "[sparse]") {
    const std::vector<float> A = sparse_matrix(3, 100, 0.5, 14), B = dense_matrix(100 * 4, 15);
    std::vector<float> C(12, -5.0f);
    SparseRows none, some;
    compress(Trans::N, 0, 100, A.data(), none);  // 0 x 100: k fits one panel
    compress(Trans::N, 3, 100, A.data(), some);
    sparse_gemm(none, Trans::N, 4, B.data(), C.data());
    sparse_gemm(some, Trans::N, 0, B.data(), C.data());
    CHECK(same_bits(C, std::vector<float>(12, -5.0f)));
}

TEST_CASE("sparse: transposing the non-zeros gives what compressing the transpose gives, on 1, 2 and 3 threads", "[sparse]") {
    const int m = 300, k = 130;  // enough non-zeros for the parallel path
    std::vector<float> A = sparse_matrix(m, k, 0.3, 10);
    // Rows whose walk ends at once (each thread reads a row's columns up to its sentinel): an empty
    // row, rows with entries only in the first or only in the last columns, and a full row.
    for (int p = 0; p < k; ++p) {
        A[size_t(7) * k + p] = 0.0f;
        A[size_t(11) * k + p] = p < 3 ? 1.5f : 0.0f;
        A[size_t(13) * k + p] = p >= k - 3 ? -2.5f : 0.0f;
        A[size_t(17) * k + p] = 0.25f + float(p);
    }
    SparseRows rows, by_compress;
    compress(Trans::N, m, k, A.data(), rows);
    compress(Trans::T, k, m, A.data(), by_compress);
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3}) {
        set_compute_threads(threads);
        SparseRows by_transpose;
        transpose(rows, by_transpose);
        INFO(threads << " threads");
        REQUIRE(by_transpose.rows == k);
        REQUIRE(by_transpose.cols == m);
        bool same = true;
        for (int p = 0; p < k; ++p) {
            REQUIRE(by_transpose.count[p] == by_compress.count[p]);
            CHECK(by_transpose.row(p)[by_transpose.count[p]].index == std::numeric_limits<int32_t>::max());
            for (int q = 0; q < by_compress.count[p]; ++q) {
                const SparseRows::Entry a = by_transpose.row(p)[q], b = by_compress.row(p)[q];
                same = same && a.index == b.index && a.value == b.value;
            }
        }
        CHECK(same);
        CHECK(by_transpose.nonzeros() == rows.nonzeros());
    }
    set_compute_threads(saved);
}

TEST_CASE("sparse: ReLU with compress in one pass equals ReLU and then compress, NaN and -0.0 included", "[sparse]") {
    const int m = 9, k = 45;
    std::vector<float> A = dense_matrix(size_t(m) * k, 12);  // about half negative
    A[3] = std::numeric_limits<float>::quiet_NaN();
    A[4] = -0.0f;
    A[5] = 0.0f;
    std::vector<float> relu = A;
    for (float& v : relu) v = v > 0.0f ? v : 0.0f;
    SparseRows fused, separate;
    relu_compress(m, k, A.data(), fused);
    compress(Trans::N, m, k, relu.data(), separate);
    CHECK(same_bits(A, relu));  // the ReLU was applied in place, NaN and -0.0 became +0
    REQUIRE(fused.nonzeros() == separate.nonzeros());
    CHECK(fused.nonzeros() > 0);
    for (int i = 0; i < m; ++i) {
        REQUIRE(fused.count[i] == separate.count[i]);
        for (int q = 0; q <= fused.count[i]; ++q) {  // the sentinel too
            CHECK(fused.row(i)[q].index == separate.row(i)[q].index);
            CHECK(fused.row(i)[q].value == separate.row(i)[q].value);
        }
    }
}

namespace {
// The weight gradient of data-parallel training: op(A) (m x k, stored k x m) cut into `parts`
// consecutive parts of k (batch rows held by processes), each continuing the partial sums of the
// one before, `row_block` output rows at a time, on each of `thread_counts` threads: bit for bit the
// scalar reference of the whole product.
void check_continued_product(int m, int n, int k, std::initializer_list<int> part_counts, int row_block,
                             std::initializer_list<int> thread_counts, uint32_t layer) {
    const std::vector<float> A = sparse_matrix(k, m, 0.3, layer);
    const std::vector<float> B = dense_matrix(size_t(k) * n, layer + 1);
    SparseRows whole;
    compress(Trans::T, m, k, A.data(), whole);
    std::vector<float> expected(size_t(m) * n);
    sparse_gemm_reference(whole, Trans::N, n, B.data(), expected.data());
    const int saved = omp_get_max_threads();
    for (int threads : thread_counts)
        for (int parts : part_counts) {
            set_compute_threads(threads);
            std::vector<float> C(size_t(m) * n, 0.0f);
            for (int p = 0; p < parts; ++p) {
                const int k0 = k * p / parts, k1 = k * (p + 1) / parts;
                SparseRows part;
                compress(Trans::T, m, k1 - k0, A.data() + size_t(k0) * m, part);
                for (int r0 = 0; r0 < m; r0 += row_block)
                    sparse_gemm_go_on(part, r0, std::min(m, r0 + row_block), Trans::N, n, B.data() + size_t(k0) * n,
                                      C.data());
            }
            INFO(m << " x " << n << ", " << parts << " parts, " << threads << " threads");
            CHECK(same_bits(C, expected));
        }
    set_compute_threads(saved);
}
}  // namespace

TEST_CASE("sparse: a product continued over consecutive parts of k, block of rows by block, equals the whole product "
          "on 1, 2 and 3 threads", "[sparse]") {
    check_continued_product(70, 37, 23, {1, 2, 3, 5, 23}, 16, {1, 2, 3}, 5);
    // w_o's gradient: 10 columns, enough work for the team, whose threads share out the rows of
    // each range (ranges starting mid-matrix, shares of a multiple of 4 rows and a short last one).
    check_continued_product(625, 10, 128, {1, 2, 3}, 301, {1, 2, 3}, 20);
    const int m = 70, n = 37, k = 23;
    const std::vector<float> A = sparse_matrix(k, m, 0.3, 5), B = dense_matrix(size_t(k) * n, 6);
    SparseRows whole;
    compress(Trans::T, m, k, A.data(), whole);
    std::vector<float> C(size_t(m) * n);
    CHECK_THROWS_AS(sparse_gemm_go_on(whole, 10, m + 1, Trans::N, n, B.data(), C.data()), std::invalid_argument);
    CHECK_THROWS_AS(sparse_gemm_go_on(whole, 5, 4, Trans::N, n, B.data(), C.data()), std::invalid_argument);
}
