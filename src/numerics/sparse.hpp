// Products whose left operand is mostly zeros: the inputs after dropout (about 85% zeros on MNIST),
// the hidden outputs after ReLU and dropout (about 75%) and the gradients masked by them. Skipping
// a zero term changes no bit: gemm sums every element as a chain of FMAs over k in plain order
// starting from +0, and FMA(0, b, s) == s for every finite b (s + 0 never rounds; +0 + -0 == +0).
// So these products give exactly gemm's bits on every kernel path (kernel_path.hpp; AVX-512, AVX2
// and plain vectors, lanes never mix) while doing a fraction of its work.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "src/numerics/gemm.hpp"
#include "src/numerics/kernel_path.hpp"

namespace mnist {

// The non-zero entries of a rows x cols matrix, row by row: row r holds count[r] entries, at
// row(r)[0 ..], in increasing column order, then a sentinel entry whose index is INT32_MAX. Rows
// are `stride` = cols + 8 entries apart (room for the sentinel; compress stores 8 entries at a
// time, past a row's last one but never past its first cols entries).
struct SparseRows {
    struct Entry {
        int32_t index;  // column
        float value;
    };
    int rows = 0, cols = 0, stride = 0;
    std::vector<int32_t> count;
    std::vector<Entry> entries;
    int64_t nonzeros() const;
    const Entry* row(int r) const { return entries.data() + size_t(r) * stride; }
    Entry* row(int r) { return entries.data() + size_t(r) * stride; }
    void reshape(int rows, int cols);  // sets the shape, grows the buffers if needed
};

// S = the non-zeros of op(A), which is m x k, as in gemm: A is stored m x k for Trans::N, k x m for
// Trans::T (then row i of S lists the p with A[p][i] != 0). -0.0 counts as zero, NaN as non-zero.
// Reuses S's buffers (they only grow); runs on the current OpenMP team.
void compress(Trans ta, int m, int k, const float* A, SparseRows& S);

// ReLU in place on the m x k row-major A (A[i] = A[i] > 0 ? A[i] : 0; NaN becomes 0) and
// S = compress(Trans::N, m, k, A) of the result, in one pass.
void relu_compress(int m, int k, float* A, SparseRows& S);

// dropout_inplace(A, m * k, offset, keep, relu, seed, a, b) (elementwise.hpp) on the m x k row-major
// A, then S = compress(Trans::N, m, k, A) of the result, in one pass: rows a few at a time, each
// listed while dropout has just left it in the cache. The same bits as the two calls.
void dropout_compress(int m, int k, float* A, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                      uint32_t b, SparseRows& S);

// T = the non-zeros of S's transpose (row p of T lists, in increasing r, the rows r of S holding
// column p): what compress(Trans::T, ...) gives for the same matrix, in work proportional to the
// non-zeros rather than to the whole matrix.
void transpose(const SparseRows& S, SparseRows& T);

// C[S.rows x n] = S * op(B), op(B) S.cols x n: B stored S.cols x n (Trans::N) or n x S.cols
// (Trans::T), row-major. Every element is the FMA chain over S's entries of its row in increasing
// column order from +0: gemm's bits for the dense matrix (finite B).
void sparse_gemm(const SparseRows& S, Trans tb, int n, const float* B, float* C);

// Rows [row_begin, row_end) of C[S.rows x n] += S * op(B), as one chain: each element's FMA chain
// over S's entries of its row goes on from the partial sum C holds (C's other rows are untouched).
// So a product whose inner dimension is cut into consecutive parts, each continued by this from the
// previous part's result (the first part started from +0, e.g. by sparse_gemm), gives exactly the
// bits of the whole product: how data-parallel training sums a weight gradient over the batch rows
// held by several processes. The plain path's scalar kernel is std::fma, the same chain.
// throws std::invalid_argument when the rows are not within [0, S.rows].
void sparse_gemm_go_on(const SparseRows& S, int row_begin, int row_end, Trans tb, int n, const float* B, float* C);

// op(B) (k x n, B stored as for sparse_gemm) in the layout sparse_gemm's kernel reads: blocks of
// columns, each block's rows padded to whole vectors and aligned. sparse_gemm copies the part of B
// each task needs into such a panel in every product; a B that serves many products (the weights
// during an evaluation) can be packed once instead, which saves that copy in each.
class PackedB {
public:
    PackedB() = default;
    PackedB(Trans tb, int k, int n, const float* B);
    int rows() const { return k_; }
    int cols() const { return n_; }
    const float* block(int j0) const;  // the block starting at column j0 (a multiple of the block width)
    KernelPath path() const { return path_; }  // the kernel path whose layout it has

private:
    struct Free {
        void operator()(float* p) const { std::free(p); }
    };
    int k_ = 0, n_ = 0, block_cols_ = 1;
    KernelPath path_ = KernelPath::plain;
    std::unique_ptr<float[], Free> data_;
};

// C[S.rows x B.cols()] = S * op(B) from op(B) packed once: the same bits as sparse_gemm.
// requires: B.rows() == S.cols and B packed under the active kernel path (else throws
// std::invalid_argument).
void sparse_gemm(const SparseRows& S, const PackedB& B, float* C);

// The plain version of sparse_gemm, one scalar FMA at a time: the reference the tests compare with.
void sparse_gemm_reference(const SparseRows& S, Trans tb, int n, const float* B, float* C);

// C = op(A) * op(B) with A, B, C as in gemm(ta, tb, ...) and S the non-zeros of op(A): through
// sparse_gemm when op(A) is at most kSparseDensity non-zero, through gemm otherwise. Both give the
// same bits, so the choice (a pure function of A) never shows in a result.
// (kSparseDensity: at full density sparse_gemm does a multiply-add slower than gemm's dense
// kernel.) On the plain path, always sparse_gemm (the same scalar FMA per term). `packed`, when
// given, is op(B) packed (PackedB), which sparse_gemm then reads instead of packing B itself.
// Returns the multiply-adds done (non-zeros of op(A) times n, or m * n * k through gemm).
constexpr double kSparseDensity = 0.6;
int64_t gemm_sparse_or_dense(Trans ta, Trans tb, const float* A, const SparseRows& S, int n, const float* B, float* C,
                             const PackedB* packed = nullptr);

// compress, then gemm_sparse_or_dense; `scratch` holds the compressed op(A).
int64_t gemm_skip_zeros(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C,
                        SparseRows& scratch);

}  // namespace mnist
