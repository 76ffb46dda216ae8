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
