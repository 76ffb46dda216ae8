// Products with a mostly-zero left operand (see sparse.hpp for why they keep gemm's bits): the
// parts that need no vector instructions, and the calls into the active kernel path's.
#include "src/numerics/sparse.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <numeric>
#include <stdexcept>

#include <omp.h>

#include "src/numerics/kernels.hpp"

namespace mnist {
namespace {

using Entry = SparseRows::Entry;

// Below this much work (multiply-adds) a product runs on one thread: waking the team costs more.
constexpr int64_t kParallelWork = 1 << 16;

// Calls the active path's kernel `name` with the arguments that follow.
#define MNIST_KERNEL_CALL(name, ...)                                        \
    switch (kernel_path()) {                                                \
        case KernelPath::avx512: return avx512::name(__VA_ARGS__);          \
        case KernelPath::avx2: return avx2::name(__VA_ARGS__);              \
        case KernelPath::plain: return plain::name(__VA_ARGS__);            \
    }                                                                       \
    return plain::name(__VA_ARGS__)

int block_cols() { MNIST_KERNEL_CALL(block_cols, ); }
int padded_width(int w) { MNIST_KERNEL_CALL(padded_width, w); }
void pack_panel(Trans tb, const float* B, int K, int n, int j0, int w, int k0, int k1, int ldp, float* panel) {
    MNIST_KERNEL_CALL(pack_panel, tb, B, K, n, j0, w, k0, k1, ldp, panel);
}
void sparse_gemm_tasks(const SparseRows& S, Trans tb, int n, const float* B, const PackedB* packed, float* C,
                       int row_begin, int row_end, bool go_on) {
    MNIST_KERNEL_CALL(sparse_gemm_tasks, S, tb, n, B, packed, C, row_begin, row_end, go_on);
}

}  // namespace

void rmsprop_update(const RmsPropScalars& s, float* var, float* ms, float* mom, const float* grad, long n) {
    MNIST_KERNEL_CALL(rmsprop_update, s, var, ms, mom, grad, n);
}
bool rmsprop_update_deferred(const RmsPropScalars& s, float* var, float* ms, uint8_t* sign, const float* grad, long n) {
    MNIST_KERNEL_CALL(rmsprop_update_deferred, s, var, ms, sign, grad, n);
}
void rebuild_momentum(const RmsPropScalars& s, float* mom, const float* ms, const uint8_t* sign, const float* grad,
                     long n) {
    MNIST_KERNEL_CALL(rebuild_momentum, s, mom, ms, sign, grad, n);
}
bool momentum_signs(const float* mom, uint8_t* sign, long n) { MNIST_KERNEL_CALL(momentum_signs, mom, sign, n); }

int64_t SparseRows::nonzeros() const {
    return std::accumulate(count.begin(), count.begin() + rows, int64_t(0));
}

void SparseRows::reshape(int r, int c) {
    rows = r;
    cols = c;
    stride = c + 8;
    if (count.size() < size_t(rows)) count.resize(rows);
    if (entries.size() < size_t(rows) * stride) entries.resize(size_t(rows) * stride);
}

void relu_compress(int m, int k, float* A, SparseRows& S) { MNIST_KERNEL_CALL(relu_compress, m, k, A, S); }
void dropout_compress(int m, int k, float* A, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                      uint32_t b, SparseRows& S) {
    MNIST_KERNEL_CALL(dropout_compress, m, k, A, offset, keep, relu, seed, a, b, S);
}

void compress(Trans ta, int m, int k, const float* A, SparseRows& S) { MNIST_KERNEL_CALL(compress, ta, m, k, A, S); }

PackedB::PackedB(Trans tb, int k, int n, const float* B)
    : k_(k), n_(n), block_cols_(mnist::block_cols()), path_(kernel_path()) {
    const int blocks = (n + block_cols_ - 1) / block_cols_;
    // Every block but the last is block_cols_ wide; each is k rows of padded_width(its width).
    const size_t floats = size_t(blocks) * size_t(k) * block_cols_, bytes = (floats * sizeof(float) + 63) / 64 * 64;
    data_.reset(static_cast<float*>(std::aligned_alloc(64, std::max<size_t>(bytes, 64))));
    if (!data_) throw std::bad_alloc();
#pragma omp parallel for schedule(static) if (int64_t(k) * n > kParallelWork)
    for (int b = 0; b < blocks; ++b) {
        const int j0 = b * block_cols_, w = std::min(block_cols_, n - j0);
        pack_panel(tb, B, k, n, j0, w, 0, k, padded_width(w), data_.get() + size_t(b) * k * block_cols_);
    }
}

const float* PackedB::block(int j0) const { return data_.get() + size_t(j0 / block_cols_) * k_ * block_cols_; }

void sparse_gemm(const SparseRows& S, Trans tb, int n, const float* B, float* C) {
    sparse_gemm_tasks(S, tb, n, B, nullptr, C, 0, S.rows, false);
}

void sparse_gemm_go_on(const SparseRows& S, int row_begin, int row_end, Trans tb, int n, const float* B, float* C) {
    if (row_begin < 0 || row_end > S.rows || row_begin > row_end)
        throw std::invalid_argument("sparse_gemm_go_on: rows out of range");
    if (n == 0 || row_begin == row_end) return;
    sparse_gemm_tasks(S, tb, n, B, nullptr, C, row_begin, row_end, true);
}

void sparse_gemm(const SparseRows& S, const PackedB& B, float* C) {
    if (B.rows() != S.cols) throw std::invalid_argument("sparse_gemm: the packed B has the wrong number of rows");
    if (B.path() != kernel_path())
        throw std::invalid_argument("sparse_gemm: the packed B was packed for another kernel path");
    sparse_gemm_tasks(S, Trans::N, B.cols(), nullptr, &B, C, 0, S.rows, false);
}

void sparse_gemm_reference(const SparseRows& S, Trans tb, int n, const float* B, float* C) {
    for (int r = 0; r < S.rows; ++r)
        for (int j = 0; j < n; ++j) {
            float sum = 0.0f;
            const Entry* e = S.row(r);
            for (int q = 0; q < S.count[r]; ++q) {
                const size_t p = size_t(e[q].index);
                sum = std::fma(e[q].value, tb == Trans::N ? B[p * n + j] : B[size_t(j) * S.cols + p], sum);
            }
            C[size_t(r) * n + j] = sum;
        }
}

void transpose(const SparseRows& S, SparseRows& T) {
    T.reshape(S.cols, S.rows);
    int32_t* count = T.count.data();
    const bool parallel = S.nonzeros() > kParallelWork / 8;
    // Each thread fills a range of T's rows (columns of S): it walks every row of S from the first
    // entry in its range (rows are sorted) to the last, so T's rows receive r in increasing order.
#pragma omp parallel if (parallel)
    {
        const int threads = omp_get_num_threads(), t = omp_get_thread_num();
        const int p0 = int(int64_t(S.cols) * t / threads), p1 = int(int64_t(S.cols) * (t + 1) / threads);
        std::fill(count + p0, count + p1, 0);
        Entry* const out = T.entries.data();
        const size_t stride = size_t(T.stride);
        for (int r = 0; r < S.rows; ++r) {
            const Entry* e = S.row(r);
            e = std::lower_bound(e, e + S.count[r], p0, [](const Entry& a, int p) { return a.index < p; });
            // Each entry's column is read one entry ahead (the row's sentinel stops the walk), and
            // T's buffer and stride are held in locals (a store of an entry could alias them), so
            // the next store's address is known early: the transposes in 0.75-0.86 of their time.
            for (int p = e->index; p < p1;) {
                const float value = e->value;
                const int next = (++e)->index;
                out[size_t(p) * stride + size_t(count[p]++)] = {r, value};
                p = next;
            }
        }
        for (int p = p0; p < p1; ++p) T.row(p)[count[p]] = kSentinel;
    }
}

int64_t gemm_sparse_or_dense(Trans ta, Trans tb, const float* A, const SparseRows& S, int n, const float* B, float* C,
                             const PackedB* packed) {
    const int m = S.rows, k = S.cols;
    if (m == 0 || n == 0) return 0;
    const int64_t nonzeros = S.nonzeros();
    // The plain path's sparse and dense products do the same scalar FMA per term: skip the zeros.
    if (kernel_path() != KernelPath::plain && double(nonzeros) > kSparseDensity * double(m) * double(k)) {
        gemm(ta, tb, m, n, k, A, B, C);
        return int64_t(m) * n * k;
    }
    sparse_gemm_tasks(S, tb, n, B, packed, C, 0, S.rows, false);
    return nonzeros * n;
}

int64_t gemm_skip_zeros(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C,
                        SparseRows& scratch) {
    if (m == 0 || n == 0) return 0;
    compress(ta, m, k, A, scratch);
    return gemm_sparse_or_dense(ta, tb, A, scratch, n, B, C);
}

}  // namespace mnist
