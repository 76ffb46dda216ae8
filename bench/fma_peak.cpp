// This machine's single-precision FMA peak, the ceiling the products are measured against
// (bench/bench.sh): many independent chains of vector FMAs on the widest kernel path the CPU has
// (AVX-512: 16 floats, AVX2: 8; the path MNIST_KERNEL forces otherwise, as in ./train), on one core
// and on every core at once (one OpenMP thread per core, each with its own chains). Nothing but
// FMAs between registers: no loads, no dependences beyond each chain's own, enough chains to cover
// the FMA latency on every port (12: 4 cycles x 2 ports needs 8; 12 leaves room).
//   usage: fma_peak [SECONDS_PER_MEASURE]   (default 0.3; the best of 5 measures is printed)
//   prints: fma_peak: path avx512 (16 floats), 12 chains: one core 210.3 GFLOPS, 2 cores 298.1 GFLOPS
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "src/numerics/kernel_path.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int kChains = 12;

// Each function runs `iters` rounds of kChains independent FMAs x = x * a + b and returns a sum of
// the chains (so the work cannot be dropped). a < 1 keeps every chain bounded and normal.
__attribute__((target("avx512f"))) float chains_avx512(long iters) {
    __m512 x[kChains];
    for (int c = 0; c < kChains; ++c) x[c] = _mm512_set1_ps(1.0f + 0.01f * c);
    const __m512 a = _mm512_set1_ps(0.9999f), b = _mm512_set1_ps(1e-4f);
    for (long i = 0; i < iters; ++i)
#pragma GCC unroll 12
        for (int c = 0; c < kChains; ++c) x[c] = _mm512_fmadd_ps(x[c], a, b);
    alignas(64) float lanes[16];
    float sum = 0;
    for (int c = 0; c < kChains; ++c) {
        _mm512_store_ps(lanes, x[c]);
        for (float v : lanes) sum += v;
    }
    return sum;
}

__attribute__((target("avx2,fma"))) float chains_avx2(long iters) {
    __m256 x[kChains];
    for (int c = 0; c < kChains; ++c) x[c] = _mm256_set1_ps(1.0f + 0.01f * c);
    const __m256 a = _mm256_set1_ps(0.9999f), b = _mm256_set1_ps(1e-4f);
    for (long i = 0; i < iters; ++i)
#pragma GCC unroll 12
        for (int c = 0; c < kChains; ++c) x[c] = _mm256_fmadd_ps(x[c], a, b);
    alignas(32) float lanes[8];
    float sum = 0;
    for (int c = 0; c < kChains; ++c) {
        _mm256_store_ps(lanes, x[c]);
        for (float v : lanes) sum += v;
    }
    return sum;
}

float chains_plain(long iters) {
    float x[kChains];
    for (int c = 0; c < kChains; ++c) x[c] = 1.0f + 0.01f * c;
    for (long i = 0; i < iters; ++i)
        for (int c = 0; c < kChains; ++c) x[c] = std::fma(x[c], 0.9999f, 1e-4f);
    float sum = 0;
    for (float v : x) sum += v;
    return sum;
}

int lanes_of(mnist::KernelPath p) {
    return p == mnist::KernelPath::avx512 ? 16 : p == mnist::KernelPath::avx2 ? 8 : 1;
}

float chains(mnist::KernelPath p, long iters) {
    switch (p) {
        case mnist::KernelPath::avx512: return chains_avx512(iters);
        case mnist::KernelPath::avx2: return chains_avx2(iters);
        case mnist::KernelPath::plain: break;
    }
    return chains_plain(iters);
}

volatile float sink;

// GFLOPS (2 per lane per FMA) of `threads` threads each running `iters` rounds: best of 5.
double measure(mnist::KernelPath p, int threads, long iters) {
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
        const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
        sink = chains(p, iters);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        best = std::max(best, 2.0 * lanes_of(p) * kChains * double(iters) * threads / s / 1e9);
    }
    return best;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const double seconds = argc > 1 ? std::atof(argv[1]) : 0.3;
        const mnist::KernelPath p = mnist::kernel_path();  // MNIST_KERNEL, else the CPU's best
        const int cores = omp_get_num_procs();
        // Size the rounds so that one measure takes about `seconds` on one core.
        long iters = 1 << 16;
        for (;;) {
            const auto t0 = Clock::now();
            sink = chains(p, iters);
            const double s = std::chrono::duration<double>(Clock::now() - t0).count();
            if (s > seconds / 4 || iters > (1L << 40)) {
                iters = long(double(iters) * seconds / std::max(s, 1e-9));
                break;
            }
            iters *= 4;
        }
        const double one = measure(p, 1, iters), all = measure(p, cores, iters);
        std::printf("fma_peak: path %s (%d floats), %d chains: one core %.1f GFLOPS, %d cores %.1f GFLOPS\n",
                    mnist::kernel_path_name(p), lanes_of(p), kChains, one, cores, all);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fma_peak: %s\n", e.what());
        return 1;
    }
}
