// The sparse product kernels, compiled once per kernel path like gemm_kernels.ipp (see there).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "src/numerics/kernels.hpp"

#if MNIST_KERNEL_ISA >= 1
#include <immintrin.h>
#endif
#include "src/numerics/kernel_target.ipp"

namespace mnist {
namespace MNIST_KERNEL_NS {
namespace {

using Entry = SparseRows::Entry;

// Below this much work (multiply-adds) a product runs on one thread: waking the team costs more.
constexpr int64_t kParallelWork = 1 << 16;

// Output rows per chunk: a packed panel serves up to this many rows at a time.
constexpr int kChunkRows = 128;
// Tasks per thread a product aims at when a task may take several chunks of rows (enough for a
// thread slowed by a neighbour to leave its share to the others).
constexpr int kTasksPerThread = 8;
// Floats of B in one k-chunk's panel: 48 KB, about an L1 data cache (only the panel rows a row of S
// touches must stay there). docs/benchmarks.md has the sizes tried.
constexpr int kPanelFloats = 12288;

#if MNIST_KERNEL_ISA >= 1
// kLeftPack[mask]: the lanes set in mask, in order, then the rest (a permutation for
// _mm256_permutevar8x32 that moves the selected lanes to the front). Built at compile time: code
// that ran at program start (a static initializer) would run on every CPU, before the check of
// which kernel path this CPU supports, and here it would be compiled for this path's instructions.
struct LeftPack {
    alignas(32) int32_t lanes[256][8] = {};
    constexpr LeftPack() {
        for (int mask = 0; mask < 256; ++mask) {
            int c = 0;
            for (int l = 0; l < 8; ++l)
                if (mask & (1 << l)) lanes[mask][c++] = l;
            for (int l = 0; l < 8; ++l)
                if (!(mask & (1 << l))) lanes[mask][c++] = l;
        }
    }
};
constexpr LeftPack kLeftPack;
#endif

// Appends the non-zeros of x[0..len) to out as entries (base + position, value); returns how many.
// With RELU, x[i] = x[i] > 0 ? x[i] : 0 first (written back; NaN becomes 0) and the entries are the
// positive values. The vector path stores eight entries per eight floats and advances by the
// non-zeros among them (no branch on the data), so it may write up to seven entries past the last
// one it keeps.
template <bool RELU>
inline int append_nonzeros(std::conditional_t<RELU, float*, const float*> x, int len, int base, Entry* out) {
    int c = 0, p = 0;
#if MNIST_KERNEL_ISA >= 1
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (; p + 8 <= len; p += 8) {
        __m256 v = _mm256_loadu_ps(x + p);
        // Without ReLU, NEQ_UQ: NaN counts as non-zero (it must poison the sum as it does in gemm).
        const __m256 keep = _mm256_cmp_ps(v, _mm256_setzero_ps(), RELU ? _CMP_GT_OQ : _CMP_NEQ_UQ);
        if constexpr (RELU) {
            v = _mm256_and_ps(v, keep);
            _mm256_storeu_ps(x + p, v);
        }
        const int mask = _mm256_movemask_ps(keep);
        const __m256i perm = _mm256_load_si256(reinterpret_cast<const __m256i*>(kLeftPack.lanes[mask]));
        const __m256i index = _mm256_permutevar8x32_epi32(_mm256_add_epi32(lane, _mm256_set1_epi32(base + p)), perm);
        const __m256i value = _mm256_permutevar8x32_epi32(_mm256_castps_si256(v), perm);
        const __m256i lo = _mm256_unpacklo_epi32(index, value), hi = _mm256_unpackhi_epi32(index, value);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c), _mm256_permute2x128_si256(lo, hi, 0x20));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + c + 4), _mm256_permute2x128_si256(lo, hi, 0x31));
        c += __builtin_popcount(unsigned(mask));
    }
#endif
    for (; p < len; ++p) {
        if constexpr (RELU) x[p] = x[p] > 0.0f ? x[p] : 0.0f;
        if (x[p] != 0.0f) out[c++] = {base + p, x[p]};
    }
    return c;
}

// The vectors of the kernel: AVX-512 (16 floats) where the build has it, else AVX2 (8), else plain
// floats (portable builds; gemm_sparse_or_dense uses Eigen's dense product there, sparse_gemm still
// works). Lanes never mix, so the width changes no bit: every element is the same FMA chain.
#if MNIST_KERNEL_ISA == 2
struct Vec {
    static constexpr int lanes = 16;
    using V = __m512;
    using Mask = __mmask16;
    // The first `count` lanes (none for count <= 0, all for count >= lanes).
    static Mask first_lanes(int count) { return Mask((1u << std::max(0, std::min(lanes, count))) - 1); }
    static Mask tail_mask(int w) { return first_lanes(w % lanes); }
    static V zero() { return _mm512_setzero_ps(); }
    static V broadcast(float x) { return _mm512_set1_ps(x); }
    static V load_aligned(const float* p) { return _mm512_load_ps(p); }
    static V load(const float* p) { return _mm512_loadu_ps(p); }
    static V load(const float* p, Mask m) { return _mm512_maskz_loadu_ps(m, p); }
    static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
    static void store(float* p, Mask m, V v) { _mm512_mask_storeu_ps(p, m, v); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};
#elif MNIST_KERNEL_ISA >= 1
struct Vec {
    static constexpr int lanes = 8;
    using V = __m256;
    using Mask = __m256i;
    static Mask first_lanes(int count) {
        return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    }
    static Mask tail_mask(int w) { return first_lanes(w % lanes); }
    static V zero() { return _mm256_setzero_ps(); }
    static V broadcast(float x) { return _mm256_set1_ps(x); }
    static V load_aligned(const float* p) { return _mm256_load_ps(p); }
    static V load(const float* p) { return _mm256_loadu_ps(p); }
    static V load(const float* p, Mask m) { return _mm256_maskload_ps(p, m); }
    static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
    static void store(float* p, Mask m, V v) { _mm256_maskstore_ps(p, m, v); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};
#else
struct Vec {
    static constexpr int lanes = 1;  // a block is never a partial vector wide: no tail
    using V = float;
    using Mask = int;
    static Mask tail_mask(int) { return 0; }
    static V zero() { return 0.0f; }
    static V broadcast(float x) { return x; }
    static V load_aligned(const float* p) { return *p; }
    static V load(const float* p) { return *p; }
    static V load(const float* p, Mask) { return *p; }
    static void store(float* p, V v) { *p = v; }
    static void store(float* p, Mask, V v) { *p = v; }
    static V fmadd(V a, V b, V c) { return std::fma(a, b, c); }
};
#endif

// Output columns per block: 8 vectors of accumulators, all in registers (64 with AVX2, 128 with
// AVX-512).
constexpr int kBlockCols = 8 * Vec::lanes;
// Floats in a packed row of a block `w` columns wide: whole vectors.
}  // namespace
int padded_width(int w) { return (w + Vec::lanes - 1) / Vec::lanes * Vec::lanes; }
namespace {

// For each of R rows r: c_r[0..w) = (first ? +0 : c_r[0..w)) + sum over the row's entries from
// e[r] on with index < k_end, in order, of value * B[index][0..w), with c_r = c + r * ldc and
// w = NV vectors (+ a partial one when TAIL): one FMA chain per element, accumulators in
// registers; e[r] moves to the first entry not taken (a row's sentinel stops it at the row's end).
// B is packed: rows aligned to vectors and V = NV (+ 1) vectors apart (the block's padded width,
// known at compile time: a shift, not a multiply, finds a row), lanes past w zero.
// Each row's next column is read before the current entry's FMAs, so the next loads' addresses
// are known while those FMAs wait: on Zen 3 the kernel alone with B in L1 1.2-1.6x as fast, a
// training step's products 2-8% faster (docs/benchmarks.md).
// R > 1 is for narrow blocks (1-2 vectors): one row gives the FMA units only 1-2 independent
// chains, each waiting on the previous FMA's latency; R rows give R times as many. The rows
// advance together while every one has an entry before k_end, then each finishes alone. Each
// row's chain is the same in any R (same terms, same order, same bits).
template <int R, int NV, bool TAIL>
inline __attribute__((always_inline)) void block_rows(const Entry** e, int k_end, const float* B, float* c, int ldc,
                                                      typename Vec::Mask tail_mask, bool first) {
    constexpr int V = NV + (TAIL ? 1 : 0), L = Vec::lanes, ldb = V * L;
    static_assert(R == 1 || V <= 2, "several rows at a time only for narrow blocks");
    typename Vec::V acc[R][V];
    const Entry* p[R];
    int col[R];  // p[r]->index: the column of each row's next entry
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        p[r] = e[r];
        col[r] = p[r]->index;
        const float* cr = c + size_t(r) * ldc;
#pragma GCC unroll 9
        for (int v = 0; v < V; ++v)
            acc[r][v] = first ? Vec::zero() : (TAIL && v == NV ? Vec::load(cr + L * v, tail_mask) : Vec::load(cr + L * v));
    }
    const auto step = [&](int r) {
        const typename Vec::V a = Vec::broadcast(p[r]->value);
        const float* b = B + size_t(col[r]) * ldb;
        ++p[r];
        col[r] = p[r]->index;  // read ahead (a sentinel is never passed)
#pragma GCC unroll 9
        for (int v = 0; v < V; ++v) acc[r][v] = Vec::fmadd(a, Vec::load_aligned(b + L * v), acc[r][v]);
    };
    if constexpr (R > 1)
        for (;;) {
            bool all = true;
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) all &= col[r] < k_end;
            if (!all) break;
#pragma GCC unroll 4
            for (int r = 0; r < R; ++r) step(r);
        }
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
        while (col[r] < k_end) step(r);
        float* cr = c + size_t(r) * ldc;
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) Vec::store(cr + L * v, acc[r][v]);
        if constexpr (TAIL) Vec::store(cr + L * NV, tail_mask, acc[r][NV]);
        e[r] = p[r];
    }
}

// Every row of a chunk (e[0..rows), c's rows ldc apart) over one k-chunk of a block `w` = NV
// vectors (+ a partial one when TAIL) wide, in one call: where the block is 1 or 2 vectors wide,
// four rows at a time in lockstep (4-8 chains; forward through w_o, 10 columns, in an evaluation:
// ~1.7x faster than a row at a time, and than 8 rows, whose shortest row ends the lockstep sooner),
// the rest one at a time (wider blocks have 3-8 chains a row). A row with no entry before k_end
// keeps its sums (unless `first`: then it is set to +0). Each row's first column is read while the
// row before runs, as block_rows reads its entries ahead. With the loop over rows here rather than
// in the caller (one call a k-chunk, not one a row), a training step ran 2.6-3.1% faster in 5 runs
// of 6 (the weight gradients 4-11%; docs/benchmarks.md).
template <int NV, bool TAIL>
void chunk_rows(const Entry** e, int rows, int k_end, const float* B, float* c, int ldc, typename Vec::Mask tail_mask,
                bool first) {
    int r = 0;
    if constexpr (NV + (TAIL ? 1 : 0) <= 2)
        for (; r + 4 <= rows; r += 4)
            block_rows<4, NV, TAIL>(e + r, k_end, B, c + size_t(r) * ldc, ldc, tail_mask, first);
    if (r == rows) return;
    int col = e[r]->index;  // the first column of row r
    for (; r < rows; ++r) {
        const int this_col = col;
        col = e[r + 1 < rows ? r + 1 : r]->index;
        if (this_col < k_end || first)
            block_rows<1, NV, TAIL>(e + r, k_end, B, c + size_t(r) * ldc, ldc, tail_mask, first);
    }
}

using ChunkRows = void (*)(const Entry**, int, int, const float*, float*, int, typename Vec::Mask, bool);

template <int NV>
constexpr ChunkRows pick(bool tail) {
    return tail ? chunk_rows<NV, true> : chunk_rows<NV, false>;
}

// The kernel for a block `w` columns wide (1 <= w <= kBlockCols).
ChunkRows chunk_kernel_for(int w) {
    static const ChunkRows table[9][2] = {
        {nullptr, pick<0>(true)}, {pick<1>(false), pick<1>(true)}, {pick<2>(false), pick<2>(true)},
        {pick<3>(false), pick<3>(true)}, {pick<4>(false), pick<4>(true)}, {pick<5>(false), pick<5>(true)},
        {pick<6>(false), pick<6>(true)}, {pick<7>(false), pick<7>(true)}, {pick<8>(false), nullptr}};
    constexpr int L = Vec::lanes;
    return table[w / L][w % L != 0];
}

#if MNIST_KERNEL_ISA >= 1
// dst (8 rows, stride ld_dst) = the transpose of src (8 rows, stride ld_src).
void transpose8x8(const float* src, int ld_src, float* dst, int ld_dst) {
    __m256 r[8], t[8];  // t[2i], t[2i+1]: rows 2i and 2i+1 interleaved
    for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + size_t(i) * ld_src);
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    // q[4h + c] holds column c of rows 4h..4h+3 (low half) and column c + 4 (high half).
    __m256 q[8];
    for (int h = 0; h < 2; ++h) {
        const __m256 *lo = t + 4 * h, *hi = t + 4 * h + 2;
        q[4 * h + 0] = _mm256_shuffle_ps(lo[0], hi[0], _MM_SHUFFLE(1, 0, 1, 0));
        q[4 * h + 1] = _mm256_shuffle_ps(lo[0], hi[0], _MM_SHUFFLE(3, 2, 3, 2));
        q[4 * h + 2] = _mm256_shuffle_ps(lo[1], hi[1], _MM_SHUFFLE(1, 0, 1, 0));
        q[4 * h + 3] = _mm256_shuffle_ps(lo[1], hi[1], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; ++c) {
        _mm256_storeu_ps(dst + size_t(c) * ld_dst, _mm256_permute2f128_ps(q[c], q[c + 4], 0x20));
        _mm256_storeu_ps(dst + size_t(c + 4) * ld_dst, _mm256_permute2f128_ps(q[c], q[c + 4], 0x31));
    }
}
#endif

}  // namespace

// panel[p - k0][0..w) = op(B)[p][j0..j0+w) for p in [k0, k1), lanes w..ldp zero. op(B) is K x n:
// B is stored K x n (Trans::N, rows copied) or n x K (Trans::T, transposed 8 x 8 in registers).
void pack_panel(Trans tb, const float* B, int K, int n, int j0, int w, int k0, int k1, int ldp, float* panel) {
#if MNIST_KERNEL_ISA >= 1
    if (tb == Trans::N && w <= 2 * Vec::lanes) {
        // A narrow block (forward through w_o: rows of 10 floats): each row as masked vector loads,
        // which give the zero lanes past w too, instead of a memcpy and a fill call a row (each
        // thread packs all 625 rows of w_o): the forward product with w_o in 0.80-0.92 of its time.
        constexpr int L = Vec::lanes;
        const typename Vec::Mask first = Vec::first_lanes(w), second = Vec::first_lanes(w - L);
        for (int p = k0; p < k1; ++p) {
            const float* src = B + size_t(p) * n + j0;
            float* dst = panel + size_t(p - k0) * ldp;
            Vec::store(dst, Vec::load(src, first));
            if (ldp > L) Vec::store(dst + L, Vec::load(src + L, second));
        }
        return;
    }
#endif
    if (tb == Trans::N) {
        for (int p = k0; p < k1; ++p) {
            float* dst = panel + size_t(p - k0) * ldp;
            std::copy(B + size_t(p) * n + j0, B + size_t(p) * n + j0 + w, dst);
            std::fill(dst + w, dst + ldp, 0.0f);
        }
        return;
    }
    int p = k0;
#if MNIST_KERNEL_ISA >= 1
    for (; p + 8 <= k1; p += 8) {
        int j = 0;
        for (; j + 8 <= w; j += 8)
            transpose8x8(B + size_t(j0 + j) * K + p, K, panel + size_t(p - k0) * ldp + j, ldp);
        for (int q = p; q < p + 8; ++q) {
            float* dst = panel + size_t(q - k0) * ldp;
            for (int jj = j; jj < w; ++jj) dst[jj] = B[size_t(j0 + jj) * K + q];
            std::fill(dst + w, dst + ldp, 0.0f);
        }
    }
#endif
    for (; p < k1; ++p) {
        float* dst = panel + size_t(p - k0) * ldp;
        for (int jj = 0; jj < w; ++jj) dst[jj] = B[size_t(j0 + jj) * K + p];
        std::fill(dst + w, dst + ldp, 0.0f);
    }
}

namespace {
// The blocks of columns of a product n columns wide: as many as it takes for none to be wider than
// kBlockCols, or `at_least` if more, each a whole number of vectors wide, their widths within one
// vector of each other; with a packed B, its layout's (every block kBlockCols wide but the last).
// Which block computes an element changes none of its bits.
struct ColumnBlocks {
    int n, count, vectors;
    bool packed;
    ColumnBlocks(int n_, bool packed_, int at_least)
        : n(n_), count((n_ + kBlockCols - 1) / kBlockCols), vectors((n_ + Vec::lanes - 1) / Vec::lanes), packed(packed_) {
        if (!packed) count = std::max(count, std::min(at_least, vectors));
    }
    int begin(int b) const { return packed ? b * kBlockCols : int(int64_t(vectors) * b / count) * Vec::lanes; }
    int width(int b) const { return std::min(n, packed ? begin(b) + kBlockCols : begin(b + 1)) - begin(b); }
};

// How sparse_gemm_tasks cuts a product (rows [0, span) of C, n columns wide, k = S.cols) into tasks
// of (column block, chunks of rows), and in which order it hands them out. Which task computes an
// element changes none of its bits.
struct TaskPlan {
    // Blocks of at most kBlockCols columns it takes to cover n.
    static int fewest_blocks(int n) { return (n + kBlockCols - 1) / kBlockCols; }
    // Rows of C per chunk: kChunkRows (a panel serves them all while in L1). But a product at most
    // two vectors wide (forward through w_o, 10 columns) is shared out by rows, about an equal share
    // a thread in a multiple of the four rows block_rows takes at once: cut into one-vector blocks,
    // each thread did as many FMAs as one thread on the whole width (a vector per entry either
    // way), and the forward product with w_o took as long on 2 threads as on 1; shared by rows it
    // takes 0.61-0.70 of its time (docs/benchmarks.md).
    static int rows_per_chunk(int n, int span, int threads) {
        if (threads == 1 || n > 2 * Vec::lanes) return kChunkRows;
        return std::min(kChunkRows, ((span + threads - 1) / threads + 3) / 4 * 4);
    }
    // Chunks of rows per task: one, except where one panel holds a whole block (k at most
    // kPanelFloats / kBlockCols: the weight gradients, whose k is the batch's rows); there a task
    // takes several chunks and packs its block once for all of them, leaving about
    // kTasksPerThread tasks per thread.
    static int chunks_per_task(int k, int n, int chunks, bool parallel, int threads, bool packed) {
        if (packed || k > kPanelFloats / kBlockCols) return 1;
        const int wanted = parallel ? kTasksPerThread * threads : 1;
        return chunks / std::min(chunks, (wanted + fewest_blocks(n) - 1) / fewest_blocks(n));
    }
    // Where a task is a whole block (a batch's rows are one chunk, and a panel holds only part of
    // the block's k rows: the forward and backward products), the blocks are as many as the threads
    // or a multiple of them, so that each thread runs as many: 5 blocks of 128 columns on 2 threads
    // kept one thread idle for a fifth of the product; 6 blocks of 104-112 columns made the three
    // largest products of a training step 4-14% faster (docs/benchmarks.md).
    static int blocks_at_least(int n, int groups, int threads) {
        return groups == 1 ? (fewest_blocks(n) + threads - 1) / threads * threads : 0;
    }

    int threads, chunk_rows, chunks, per_task, groups;
    ColumnBlocks blocks;
    // Tasks t and t + 1 of one chunk of rows (groups == 1) are neighbouring column blocks, and
    // neighbours share a cache line of C in nearly every row (a block's edge falls inside a line:
    // rows are n floats apart); two threads on neighbours at once pass those lines to and fro at
    // every k-chunk (the 2-thread product ran 1.3x its 1-thread rate, and 1.8x with each thread on
    // a contiguous half, docs/benchmarks.md). So where the blocks are a multiple of the threads,
    // they go out as 0, b, 2b, ..., 1, b + 1, ... (b = blocks per thread): the threads start b
    // blocks apart and stay apart while they keep about the same pace, and a thread slowed by a
    // neighbour still leaves its share to the others.
    bool spread;

    TaskPlan(int k, int n, int span, bool parallel, int threads_, bool packed)
        : threads(threads_),
          chunk_rows(rows_per_chunk(n, span, threads)),
          chunks((span + chunk_rows - 1) / chunk_rows),
          per_task(chunks_per_task(k, n, chunks, parallel, threads, packed)),
          groups((chunks + per_task - 1) / per_task),
          blocks(n, packed, blocks_at_least(n, groups, threads)),
          spread(groups == 1 && threads > 1 && blocks.count % threads == 0) {}

    int tasks() const { return blocks.count * groups; }
    struct Task {
        int block, chunk_begin, chunk_end;  // a column block; chunks of rows [chunk_begin, chunk_end)
    };
    // The task the i-th hand-out runs.
    Task task(int i) const {
        const int t = spread ? (i % threads) * (blocks.count / threads) + i / threads : i;
        const int chunk_begin = (t % groups) * per_task;
        return {t / groups, chunk_begin, std::min(chunks, chunk_begin + per_task)};
    }
};

// Rows of op(B) per k-chunk of a block whose packed rows are ldp floats: k-chunks of equal size
// (within one row) that each fit a panel, rather than full panels and a remainder: each k-chunk
// loads and stores every row's sums once, and a last k-chunk of a few rows (784 = 4 x 192 + 16 for
// w_h, 625 = 3 x 192 + 49 for w_h2) did so for a few entries.
int k_chunk_rows(int k, int ldp) {
    const int most = kPanelFloats / ldp, k_chunks = (k + most - 1) / most;
    return std::max(1, (k + k_chunks - 1) / std::max(1, k_chunks));
}
}  // namespace

// C = S * op(B) by the tasks of a TaskPlan, handed out one at a time (a thread slowed by a
// neighbour on a shared machine does not hold up the product). The block of op(B) comes from
// `packed` when given, else each task packs it, a k-chunk at a time, into a panel on its stack.
// Only rows [row_begin, row_end) of C are computed; with `go_on` their chains continue from the
// partial sums C holds instead of starting from +0.
void sparse_gemm_tasks(const SparseRows& S, Trans tb, int n, const float* B, const PackedB* packed, float* C,
                       int row_begin, int row_end, bool go_on) {
    const int span = row_end - row_begin;
    if (n <= 0 || span <= 0) return;
    const int64_t work = span == S.rows ? S.nonzeros() * n : S.nonzeros() * n / std::max(1, S.rows) * span;
    const bool parallel = work > kParallelWork;
    const TaskPlan plan(S.cols, n, span, parallel, parallel ? omp_get_max_threads() : 1, packed != nullptr);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int i = 0; i < plan.tasks(); ++i) {
        const TaskPlan::Task task = plan.task(i);
        const int j0 = plan.blocks.begin(task.block), w = plan.blocks.width(task.block), ldp = padded_width(w);
        const ChunkRows kernel = chunk_kernel_for(w);
        const typename Vec::Mask tail = Vec::tail_mask(w);
        // k-chunks: rows k0..k0+kc of the block of op(B) stay in the L1 cache while every row of
        // the chunk runs over them; a row's partial sums wait in C between k-chunks (its FMA chain
        // goes on from them).
        const int kc = k_chunk_rows(S.cols, ldp);
        alignas(64) float panel[kPanelFloats];  // unused when packed
        int panel_k0 = -1;                       // the k-chunk the panel holds
        const Entry* next[kChunkRows];
        for (int chunk = task.chunk_begin; chunk < task.chunk_end; ++chunk) {
            const int r0 = row_begin + chunk * plan.chunk_rows, rows = std::min(row_end - r0, plan.chunk_rows);
            for (int r = 0; r < rows; ++r) next[r] = S.row(r0 + r);
            for (int k0 = 0; k0 < S.cols || k0 == 0; k0 += kc) {
                const int k1 = std::min(S.cols, k0 + kc);
                const float* rows_of_b;  // row p of the block at rows_of_b + p * ldp, for p in [k0, k1)
                if (packed) {
                    rows_of_b = packed->block(j0);
                } else {
                    if (panel_k0 != k0) pack_panel(tb, B, S.cols, n, j0, w, k0, k1, ldp, panel);
                    panel_k0 = k0;
                    rows_of_b = panel - size_t(k0) * ldp;
                }
                kernel(next, rows, k1, rows_of_b, C + size_t(r0) * n + j0, n, tail, k0 == 0 && !go_on);
            }
        }
    }
}

namespace {
// S = the non-zeros of the rows of the m x k row-major A (after ReLU in place when RELU).
template <bool RELU>
void compress_rows(int m, int k, std::conditional_t<RELU, float*, const float*> A, SparseRows& S) {
    S.reshape(m, k);
#pragma omp parallel for schedule(static) if (int64_t(m) * k > kParallelWork)
    for (int i = 0; i < m; ++i) {
        S.count[i] = append_nonzeros<RELU>(A + size_t(i) * k, k, 0, S.row(i));
        S.row(i)[S.count[i]] = kSentinel;
    }
}
}  // namespace

void relu_compress(int m, int k, float* A, SparseRows& S) { compress_rows<true>(m, k, A, S); }

void dropout_compress(int m, int k, float* A, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                      uint32_t b, SparseRows& S) {
    S.reshape(m, k);
    // Rows a few at a time (8 of 784 floats: 25 KB), listed while dropout has left them in L1.
    constexpr int kRowsAtOnce = 8;
    const int chunks = (m + kRowsAtOnce - 1) / kRowsAtOnce;
#pragma omp parallel for schedule(static) if (int64_t(m) * k > kParallelWork)
    for (int c = 0; c < chunks; ++c) {
        const int i0 = c * kRowsAtOnce, i1 = std::min(m, i0 + kRowsAtOnce);
        dropout_serial(A + size_t(i0) * k, size_t(i1 - i0) * k, offset + size_t(i0) * k, keep, relu, seed, a, b);
        for (int i = i0; i < i1; ++i) {
            S.count[i] = append_nonzeros<false>(A + size_t(i) * k, k, 0, S.row(i));
            S.row(i)[S.count[i]] = kSentinel;
        }
    }
}

void compress(Trans ta, int m, int k, const float* A, SparseRows& S) {
    if (ta == Trans::N) return compress_rows<false>(m, k, A, S);
    S.reshape(m, k);
    int32_t* count = S.count.data();
    // A is k x m: each task owns a group of its columns (rows of S) and walks down its rows, so
    // every row of S receives its entries in increasing p.
    constexpr int kGroup = 64;
    const int groups = (m + kGroup - 1) / kGroup;
#pragma omp parallel for schedule(static) if (int64_t(m) * k > kParallelWork)
    for (int g = 0; g < groups; ++g) {
        const int i0 = g * kGroup, len = std::min(kGroup, m - i0);
        std::fill(count + i0, count + i0 + len, 0);
        Entry found[kGroup + 8];
        for (int p = 0; p < k; ++p) {
            const int c = append_nonzeros<false>(A + size_t(p) * m + i0, len, i0, found);
            for (int q = 0; q < c; ++q) {
                const int i = found[q].index;
                S.row(i)[count[i]++] = {p, found[q].value};
            }
        }
        for (int i = i0; i < i0 + len; ++i) S.row(i)[count[i]] = kSentinel;
    }
}

int block_cols() { return kBlockCols; }

}  // namespace MNIST_KERNEL_NS
}  // namespace mnist

#include "src/numerics/kernel_target_end.ipp"
