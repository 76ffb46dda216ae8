// Fixed-tile parallel GEMM (see gemm.hpp for why results do not depend on the thread count): the
// active kernel path's (kernel_path.hpp; the kernels are in gemm_kernels.ipp).
#include "src/numerics/gemm.hpp"

#include <omp.h>
#include <xmmintrin.h>

#include "src/numerics/kernel_path.hpp"
#include "src/numerics/kernels.hpp"

namespace mnist {

void set_compute_threads(int threads) {
    kernel_path();  // chooses the path now, where a bad MNIST_KERNEL can be reported
    omp_set_num_threads(threads > 0 ? threads : omp_get_num_procs());
    omp_set_max_active_levels(1);  // even with OMP_NESTED set: see gemm.hpp
    _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ | DAZ
#pragma omp parallel
    _mm_setcsr(_mm_getcsr() | 0x8040);
}

void gemm(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C) {
    if (m == 0 || n == 0) return;
    switch (kernel_path()) {
        case KernelPath::avx512: return avx512::gemm(ta, tb, m, n, k, A, B, C);
        case KernelPath::avx2: return avx2::gemm(ta, tb, m, n, k, A, B, C);
        case KernelPath::plain: break;
    }
    plain::gemm(ta, tb, m, n, k, A, B, C);
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
