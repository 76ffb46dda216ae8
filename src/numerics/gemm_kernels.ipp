// The dense product kernels, compiled once per kernel path (kernels_<path>.cpp includes this file
// with MNIST_KERNEL_ISA set: 2 AVX-512, 1 AVX2/FMA, 0 plain). The vector code is enabled by a
// `#pragma GCC target` after the library headers, not by compiler flags, so every inline function
// the headers define stays baseline x86-64 (the linker keeps one copy of each: it must run
// anywhere). Every path sums each element of C as one FMA chain over k in plain order from +0.
#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "src/numerics/kernels.hpp"

#if MNIST_KERNEL_ISA >= 1
#include <immintrin.h>
#endif
#include "src/numerics/kernel_target.ipp"

namespace mnist {
namespace MNIST_KERNEL_NS {
namespace {

#if MNIST_KERNEL_ISA >= 1
// The AVX2/FMA path: a 6x16 register-blocked micro-kernel over packed panels. Every element of C
// is summed over k in plain order 0, 1, ..., k-1 (one FMA per term, k-blocks continuing from the
// stored partial sum), so its bits depend neither on the tile shapes nor on the thread count.
constexpr int kMR = 6, kNR = 16, kKC = 784;  // kKC: no k-blocking for this model's products

// acc(6x16) = (first ? 0 : c) + a_panel * b_panel over kc terms; c has row stride ldc.
// b advances by ldb floats per step of p: 16 for a packed panel, n when reading a row-major B in place.
inline void micro_kernel(int kc, const float* __restrict a, const float* __restrict b, int ldb, float* __restrict c,
                         int ldc, bool first) {
    __m256 acc[kMR][2];
    for (int i = 0; i < kMR; ++i)
        for (int j = 0; j < 2; ++j)
            acc[i][j] = first ? _mm256_setzero_ps() : _mm256_loadu_ps(c + i * ldc + 8 * j);
    for (int p = 0; p < kc; ++p) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
        for (int i = 0; i < kMR; ++i) {
            const __m256 ai = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
        a += kMR;
        b += ldb;
    }
    for (int i = 0; i < kMR; ++i)
        for (int j = 0; j < 2; ++j) _mm256_storeu_ps(c + i * ldc + 8 * j, acc[i][j]);
}

// op(A) packed once per product as panels of 6 rows ([panel][p][6], zero-padded), op(B) as panels
// of 16 columns ([panel][p][16]); both buffers grow to the largest product seen and are then reused,
// so a training step allocates nothing after its first call. One pair per calling thread: products
// may run side by side (evaluate's chunks).
struct Packed {
    std::vector<float, Eigen::aligned_allocator<float>> a, b;
};

template <Trans TA>
void pack_a_panel(int m, int k, const float* A, int panel, float* dst) {
    const int i0 = panel * kMR, h = std::min(kMR, m - i0);
    if (TA == Trans::T) {  // op(A)(i, p) = A[p*m + i]: six neighbours in one row of A
        for (int p = 0; p < k; ++p, dst += kMR) {
            const float* src = A + size_t(p) * m + i0;
            if (h == kMR) std::memcpy(dst, src, sizeof(float) * kMR);
            else for (int i = 0; i < kMR; ++i) dst[i] = i < h ? src[i] : 0.0f;
        }
        return;
    }
    for (int i = 0; i < kMR; ++i) {  // op(A)(i, p) = A[i*k + p]: each row read straight through
        if (i >= h) {
            for (int p = 0; p < k; ++p) dst[size_t(p) * kMR + i] = 0.0f;
            continue;
        }
        const float* src = A + size_t(i0 + i) * k;
        for (int p = 0; p < k; ++p) dst[size_t(p) * kMR + i] = src[p];
    }
}

template <Trans TB>
void pack_b_panel(int n, int k, const float* B, int panel, float* dst) {
    const int j0 = panel * kNR, w = std::min(kNR, n - j0);
    if (TB == Trans::N) {  // op(B)(p, j) = B[p*n + j]: sixteen neighbours in one row of B
        for (int p = 0; p < k; ++p, dst += kNR) {
            const float* src = B + size_t(p) * n + j0;
            if (w == kNR) std::memcpy(dst, src, sizeof(float) * kNR);
            else for (int j = 0; j < kNR; ++j) dst[j] = j < w ? src[j] : 0.0f;
        }
        return;
    }
    for (int j = 0; j < kNR; ++j) {  // op(B)(p, j) = B[j*k + p]
        if (j >= w) {
            for (int p = 0; p < k; ++p) dst[size_t(p) * kNR + j] = 0.0f;
            continue;
        }
        const float* src = B + size_t(j0 + j) * k;
        for (int p = 0; p < k; ++p) dst[size_t(p) * kNR + j] = src[p];
    }
}

template <Trans TA, Trans TB>
void avx2_gemm(int m, int n, int k, const float* A, const float* B, float* C) {
    static thread_local Packed packed;
    const int panels_a = (m + kMR - 1) / kMR, panels_b = (n + kNR - 1) / kNR;
    const size_t size_a = size_t(panels_a) * kMR * k, size_b = size_t(panels_b) * kNR * k;
    if (packed.a.size() < size_a) packed.a.resize(size_a);
    if (packed.b.size() < size_b) packed.b.resize(size_b);
    float* pa = packed.a.data();
    float* pb = packed.b.data();
    // Tiles of whole panels: kTileRows/kMR row panels by kTileCols/kNR column panels.
    constexpr int tile_pa = kTileRows / kMR, tile_pb = kTileCols / kNR;
    const int tiles_m = (panels_a + tile_pa - 1) / tile_pa, tiles_n = (panels_b + tile_pb - 1) / tile_pb;
    const int tiles = tiles_m * tiles_n;
#pragma omp parallel if (tiles > 1)
    {
#pragma omp for schedule(static) nowait
        for (int q = 0; q < panels_a; ++q) pack_a_panel<TA>(m, k, A, q, pa + size_t(q) * kMR * k);
        // A row-major op(B) is read in place (its rows are contiguous), except a partial last panel.
#pragma omp for schedule(static)
        for (int q = 0; q < panels_b; ++q)
            if (TB == Trans::T || (q + 1) * kNR > n) pack_b_panel<TB>(n, k, B, q, pb + size_t(q) * kNR * k);
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < tiles; ++t) {
            const int qa0 = (t / tiles_n) * tile_pa, qb0 = (t % tiles_n) * tile_pb;
            const int qa1 = std::min(panels_a, qa0 + tile_pa), qb1 = std::min(panels_b, qb0 + tile_pb);
            for (int p0 = 0; p0 < k; p0 += kKC) {
                const int kc = std::min(kKC, k - p0);
                const bool first = p0 == 0;
                for (int qb = qb0; qb < qb1; ++qb) {
                    const int j = qb * kNR, w = std::min(kNR, n - j);
                    const bool in_place = TB == Trans::N && w == kNR;
                    const float* b = in_place ? B + size_t(p0) * n + j : pb + size_t(qb) * kNR * k + size_t(p0) * kNR;
                    const int ldb = in_place ? n : kNR;
                    for (int qa = qa0; qa < qa1; ++qa) {
                        const float* a = pa + size_t(qa) * kMR * k + size_t(p0) * kMR;
                        const int i = qa * kMR, h = std::min(kMR, m - i);
                        float* c = C + size_t(i) * n + j;
                        if (h == kMR && w == kNR) {
                            micro_kernel(kc, a, b, ldb, c, n, first);
                            continue;
                        }
                        // A block at the matrix edge goes through a full-size scratch block.
                        alignas(32) float edge[kMR * kNR] = {};
                        for (int r = 0; r < h && !first; ++r)
                            for (int col = 0; col < w; ++col) edge[r * kNR + col] = c[size_t(r) * n + col];
                        micro_kernel(kc, a, b, ldb, edge, kNR, first);
                        for (int r = 0; r < h; ++r)
                            for (int col = 0; col < w; ++col) c[size_t(r) * n + col] = edge[r * kNR + col];
                    }
                }
            }
        }
    }
}
#endif

#if MNIST_KERNEL_ISA >= 1
// C (m x n) = A^T B for a narrow B (n <= kNarrowCols), A stored k x m and B k x n: the gradient of
// w_o (625 x 10 over a batch of 128 rows). gemm's tiles would pack op(A) six rows at a time (13 K
// copies of 24 bytes for w_o's gradient) and fill 16-column register blocks with 10 columns; here a
// vector of C's column c holds 8 consecutive rows of C, which are 8 neighbours in a row of A: each
// term p multiplies a vector read straight from row p of A by a broadcast of B[p][c]. Each element
// is the same FMA chain over p in plain order from +0 as in gemm (a * b == b * a: the bits too).
// Inside a training step on 2 threads, w_o's gradient took 0.45-0.53 of its time through the tiles
// (docs/benchmarks.md).
constexpr int kNarrowCols = 16;
constexpr int kNarrowAcc = 12;  // accumulators a block keeps in registers (AVX2 has 16)

// Rows [i0, i0 + 8 IV) and columns [c0, c0 + NC) of C.
template <int IV, int NC>
void narrow_tn_block(int m, int n, int k, const float* A, const float* B, float* C, int i0, int c0) {
    static_assert(IV * NC <= kNarrowAcc, "accumulators must stay in registers");
    __m256 acc[IV][NC];
#pragma GCC unroll 2
    for (int v = 0; v < IV; ++v)
#pragma GCC unroll 12
        for (int c = 0; c < NC; ++c) acc[v][c] = _mm256_setzero_ps();
    for (int p = 0; p < k; ++p) {
        const float* a = A + size_t(p) * m + i0;
        const float* b = B + size_t(p) * n + c0;
        __m256 av[IV];
#pragma GCC unroll 2
        for (int v = 0; v < IV; ++v) av[v] = _mm256_loadu_ps(a + 8 * v);
#pragma GCC unroll 12
        for (int c = 0; c < NC; ++c) {
            const __m256 bc = _mm256_broadcast_ss(b + c);
#pragma GCC unroll 2
            for (int v = 0; v < IV; ++v) acc[v][c] = _mm256_fmadd_ps(av[v], bc, acc[v][c]);
        }
    }
    alignas(32) float t[NC][8 * IV];
#pragma GCC unroll 12
    for (int c = 0; c < NC; ++c)
#pragma GCC unroll 2
        for (int v = 0; v < IV; ++v) _mm256_store_ps(t[c] + 8 * v, acc[v][c]);
    for (int r = 0; r < 8 * IV; ++r)
        for (int c = 0; c < NC; ++c) C[size_t(i0 + r) * n + c0 + c] = t[c][r];
}

using NarrowBlock = void (*)(int, int, int, const float*, const float*, float*, int, int);

// The block for nc (1-6) columns.
template <int IV>
NarrowBlock narrow_block_for(int nc) {
    static const NarrowBlock table[] = {narrow_tn_block<IV, 1>, narrow_tn_block<IV, 2>, narrow_tn_block<IV, 3>,
                                        narrow_tn_block<IV, 4>, narrow_tn_block<IV, 5>, narrow_tn_block<IV, 6>};
    return table[nc - 1];
}

void narrow_tn(int m, int n, int k, const float* A, const float* B, float* C) {
    constexpr int IV = 2, rows = 8 * IV, most = kNarrowAcc / IV;
    const int passes = (n + most - 1) / most;  // column passes of about equal width, at most `most`
    const int groups = m / rows;
#pragma omp parallel for schedule(static) if (int64_t(m) * n * k > (1 << 16))
    for (int g = 0; g <= groups; ++g) {
        for (int q = 0, c0 = 0; q < passes; ++q) {
            const int nc = n / passes + (q < n % passes ? 1 : 0);
            if (g < groups) {
                narrow_block_for<IV>(nc)(m, n, k, A, B, C, g * rows, c0);
            } else {  // the last m % 16 rows: a block of 8, then one element at a time
                int i = groups * rows;
                if (m - i >= 8) {
                    narrow_block_for<1>(nc)(m, n, k, A, B, C, i, c0);
                    i += 8;
                }
                for (; i < m; ++i)
                    for (int c = c0; c < c0 + nc; ++c) {
                        float s = 0.0f;
                        for (int p = 0; p < k; ++p) s = std::fma(A[size_t(p) * m + i], B[size_t(p) * n + c], s);
                        C[size_t(i) * n + c] = s;
                    }
            }
            c0 += nc;
        }
    }
}
#endif

#if MNIST_KERNEL_ISA >= 1
// C (m x n) = A B^T for a short k (k <= kNarrowCols), A stored m x k and B n x k: the backward
// product through w_o (128 x 625 from d loss / d logits, k = 10). Each task takes a block of up to
// 48 columns of C: it copies the block's k x 48 slice of B^T into a panel (in L1), then runs down
// C's rows two at a time, 2 x 6 vectors of accumulators: 12 chains of k FMAs (a row at a time, as
// the sparse kernel took it from a list of every entry, 8 chains of 10 FMAs left the FMA units
// waiting on their latency): 0.82-0.88 of that kernel's time inside a training step. Each element
// is the same FMA chain over p in plain order from +0 as in gemm.
constexpr int kShortKCols = 48;  // columns of C per task: 6 vectors

// Rows [0, R) of c (row stride ldc) over the panel's first NV vectors (k rows of kShortKCols
// floats), from a (row stride k); the last vector's lanes from `tail` on are not stored.
template <int R, int NV>
inline __attribute__((always_inline)) void short_k_rows(int k, const float* a, const float* panel, float* c, int ldc,
                                                        bool partial, __m256i tail) {
    __m256 acc[R][NV];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
    for (int p = 0; p < k; ++p) {
        __m256 ar[R];
#pragma GCC unroll 2
        for (int r = 0; r < R; ++r) ar[r] = _mm256_broadcast_ss(a + size_t(r) * k + p);
#pragma GCC unroll 6
        for (int v = 0; v < NV; ++v) {
            const __m256 b = _mm256_load_ps(panel + p * kShortKCols + 8 * v);
#pragma GCC unroll 2
            for (int r = 0; r < R; ++r) acc[r][v] = _mm256_fmadd_ps(ar[r], b, acc[r][v]);
        }
    }
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 6
        for (int v = 0; v < NV; ++v) {
            float* dst = c + size_t(r) * ldc + 8 * v;
            if (v + 1 < NV || !partial) _mm256_storeu_ps(dst, acc[r][v]);
            else _mm256_maskstore_ps(dst, tail, acc[r][v]);
        }
}

// Every row of C over one block of columns (w of them, NV vectors).
template <int NV>
void short_k_block(int m, int k, const float* A, const float* panel, float* c, int ldc, int w) {
    const bool partial = w < 8 * NV;
    const __m256i tail =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(w - 8 * (NV - 1)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    int i = 0;
    for (; i + 2 <= m; i += 2)
        short_k_rows<2, NV>(k, A + size_t(i) * k, panel, c + size_t(i) * ldc, ldc, partial, tail);
    if (i < m) short_k_rows<1, NV>(k, A + size_t(i) * k, panel, c + size_t(i) * ldc, ldc, partial, tail);
}

void short_k_nt(int m, int n, int k, const float* A, const float* B, float* C) {
    using Block = void (*)(int, int, const float*, const float*, float*, int, int);
    static const Block by_vectors[] = {short_k_block<1>, short_k_block<2>, short_k_block<3>,
                                       short_k_block<4>, short_k_block<5>, short_k_block<6>};
    const int blocks = (n + kShortKCols - 1) / kShortKCols;
#pragma omp parallel for schedule(static) if (int64_t(m) * n * k > (1 << 16))
    for (int blk = 0; blk < blocks; ++blk) {
        const int j0 = blk * kShortKCols, w = std::min(kShortKCols, n - j0), vectors = (w + 7) / 8;
        alignas(32) float panel[kNarrowCols * kShortKCols];
        for (int p = 0; p < k; ++p) {
            float* row = panel + p * kShortKCols;
            for (int j = 0; j < w; ++j) row[j] = B[size_t(j0 + j) * k + p];
            std::fill(row + w, row + 8 * vectors, 0.0f);
        }
        by_vectors[vectors - 1](m, k, A, panel, C + j0, n, w);
    }
}
#endif

#if MNIST_KERNEL_ISA == 0
// The plain path: rows [i0, i0+mt) x columns [j0, j0+nt) of C, each element one std::fma chain over
// k in plain order from +0 (the vector kernels' bits). The inner loop runs across a row of C so
// that each element's chain goes on where it stood.
template <Trans TA, Trans TB>
void plain_tile(int m, int n, int k, const float* A, const float* B, float* C, int i0, int j0, int mt, int nt) {
    for (int i = i0; i < i0 + mt; ++i) {
        float* c = C + size_t(i) * n;
        std::fill(c + j0, c + j0 + nt, 0.0f);
        for (int p = 0; p < k; ++p) {
            const float a = TA == Trans::N ? A[size_t(i) * k + p] : A[size_t(p) * m + i];
            for (int j = j0; j < j0 + nt; ++j)
                c[j] = std::fma(a, TB == Trans::N ? B[size_t(p) * n + j] : B[size_t(j) * k + p], c[j]);
        }
    }
}
#endif

template <Trans TA, Trans TB>
void gemm_tiles(int m, int n, int k, const float* A, const float* B, float* C) {
    if (k == 0) {
        std::fill(C, C + size_t(m) * n, 0.0f);
        return;
    }
#if MNIST_KERNEL_ISA >= 1
    if (TA == Trans::T && TB == Trans::N && n <= kNarrowCols) return narrow_tn(m, n, k, A, B, C);
    if (TA == Trans::N && TB == Trans::T && k <= kNarrowCols) return short_k_nt(m, n, k, A, B, C);
    avx2_gemm<TA, TB>(m, n, k, A, B, C);
#else
    const int tiles_m = (m + kTileRows - 1) / kTileRows;
    const int tiles_n = (n + kTileCols - 1) / kTileCols;
    const int tiles = tiles_m * tiles_n;
#pragma omp parallel for schedule(dynamic, 1) if (tiles > 1)
    for (int t = 0; t < tiles; ++t) {
        const int i0 = (t / tiles_n) * kTileRows, j0 = (t % tiles_n) * kTileCols;
        plain_tile<TA, TB>(m, n, k, A, B, C, i0, j0, std::min(kTileRows, m - i0), std::min(kTileCols, n - j0));
    }
#endif
}

}  // namespace

void gemm(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C) {
    if (ta == Trans::N && tb == Trans::N) gemm_tiles<Trans::N, Trans::N>(m, n, k, A, B, C);
    else if (ta == Trans::N) gemm_tiles<Trans::N, Trans::T>(m, n, k, A, B, C);
    else if (tb == Trans::N) gemm_tiles<Trans::T, Trans::N>(m, n, k, A, B, C);
    else gemm_tiles<Trans::T, Trans::T>(m, n, k, A, B, C);
}

}  // namespace MNIST_KERNEL_NS
}  // namespace mnist

#include "src/numerics/kernel_target_end.ipp"
