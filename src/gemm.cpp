// Fixed-tile parallel GEMM on Eigen (see gemm.hpp for why the tiles are fixed).
#include "src/gemm.hpp"

#include <omp.h>
#include <xmmintrin.h>

#include <Eigen/Core>

namespace mnist {
namespace {

using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ConstMap = Eigen::Map<const RowMajor, 0, Eigen::OuterStride<>>;
using Map = Eigen::Map<RowMajor, 0, Eigen::OuterStride<>>;

// Rows [i0, i0+mt) of op(A), as an Eigen expression.
template <Trans TA, class F>
void with_a_rows(const float* A, int m, int k, int i0, int mt, F&& f) {
    if constexpr (TA == Trans::N) f(ConstMap(A + size_t(i0) * k, mt, k, Eigen::OuterStride<>(k)));
    else f(ConstMap(A + i0, k, mt, Eigen::OuterStride<>(m)).transpose());
}

// Columns [j0, j0+nt) of op(B), as an Eigen expression.
template <Trans TB, class F>
void with_b_cols(const float* B, int n, int k, int j0, int nt, F&& f) {
    if constexpr (TB == Trans::N) f(ConstMap(B + j0, k, nt, Eigen::OuterStride<>(n)));
    else f(ConstMap(B + size_t(j0) * k, nt, k, Eigen::OuterStride<>(k)).transpose());
}

template <Trans TA, Trans TB>
void gemm_tiles(int m, int n, int k, const float* A, const float* B, float* C) {
    const int tiles_m = (m + kTileRows - 1) / kTileRows;
    const int tiles_n = (n + kTileCols - 1) / kTileCols;
    const int tiles = tiles_m * tiles_n;
#pragma omp parallel for schedule(dynamic, 1) if (tiles > 1)
    for (int t = 0; t < tiles; ++t) {
        const int i0 = (t / tiles_n) * kTileRows, j0 = (t % tiles_n) * kTileCols;
        const int mt = std::min(kTileRows, m - i0), nt = std::min(kTileCols, n - j0);
        Map c(C + size_t(i0) * n + j0, mt, nt, Eigen::OuterStride<>(n));
        if (k == 0) {
            c.setZero();
            continue;
        }
        with_a_rows<TA>(A, m, k, i0, mt, [&](const auto& a) {
            with_b_cols<TB>(B, n, k, j0, nt, [&](const auto& b) { c.noalias() = a * b; });
        });
    }
}

}  // namespace

void set_compute_threads(int threads) {
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
    _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ | DAZ
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);
}

void gemm(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C) {
    if (m == 0 || n == 0) return;
    if (ta == Trans::N && tb == Trans::N) gemm_tiles<Trans::N, Trans::N>(m, n, k, A, B, C);
    else if (ta == Trans::N) gemm_tiles<Trans::N, Trans::T>(m, n, k, A, B, C);
    else if (tb == Trans::N) gemm_tiles<Trans::T, Trans::N>(m, n, k, A, B, C);
    else gemm_tiles<Trans::T, Trans::T>(m, n, k, A, B, C);
}

void gemm_reference(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C) {
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            double sum = 0;
            for (int p = 0; p < k; ++p) {
                const float a = ta == Trans::N ? A[size_t(i) * k + p] : A[size_t(p) * m + i];
                const float b = tb == Trans::N ? B[size_t(p) * n + j] : B[size_t(j) * k + p];
                sum += double(a) * b;
            }
            C[size_t(i) * n + j] = float(sum);
        }
}

}  // namespace mnist
