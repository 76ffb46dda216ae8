// The RMSProp update's arithmetic, compiled once per kernel path like gemm_kernels.ipp (see there).
// Every rounding is spelled out with std::fma, so each path (vector FMA instructions, or the C
// library's exact fmaf on the plain path) gives the same bits as the -march=native builds that
// wrote the reference checkpoints (GCC contracted this loop into exactly these FMAs).
#include <algorithm>
#include <cmath>
#include <cstdint>

#if MNIST_KERNEL_ISA >= 1
#include <immintrin.h>
#endif

#include "src/numerics/kernels.hpp"
#include "src/numerics/kernel_target.ipp"

namespace mnist {
namespace MNIST_KERNEL_NS {

// The update's loops hand out pieces of this many 8-float groups (16 K elements, 64 KB of each
// array) to whichever thread is free, not one half to each. With static halves, inside a training
// step on 2 threads, the main thread spent about a fifth of the update waiting at its end for the
// other (perf's samples of ./train); with pieces the update took 0.90-1.00 of its time and a step
// 0.984-1.003, median 0.991 (docs/benchmarks.md). Which thread updates an element changes none of
// its bits.
constexpr long kUpdatePiece = 2048;

void rmsprop_update(const RmsPropScalars& s, float* var, float* ms, float* mom, const float* grad, long n) {
#pragma omp parallel for schedule(dynamic, 8 * kUpdatePiece) if (n > (1 << 15))
    for (long i = 0; i < n; ++i) {
        const float g = grad[i];
        ms[i] = std::fma(std::fma(g, g, -ms[i]), s.one_minus_decay, ms[i]);  // ms + (g*g - ms) * (1 - decay)
        mom[i] = std::fma(mom[i], s.momentum, (g * s.learning_rate) / std::sqrt(ms[i] + s.epsilon));
        var[i] -= mom[i];
    }
}

namespace {

// x = lr g / sqrt(ms + eps) of the update, with ms already updated: the same expression everywhere.
inline float scaled_step(const RmsPropScalars& s, float g, float ms) {
    return (g * s.learning_rate) / std::sqrt(ms + s.epsilon);
}

// The momentum fma(mom, 0, x) gives for a finite mom whose sign bit is `sign`: x, but where x
// compares equal to zero (with DAZ, as gemm.cpp sets it, a denormal too: the FMA reads it as a
// zero), +0 unless x and mom are both negative (+0 + -0 == +0, -0 + -0 == -0).
inline float momentum_of(float x, bool sign) {
    if (x != 0.0f) return x;
    return std::signbit(x) && sign ? -0.0f : 0.0f;
}

#if MNIST_KERNEL_ISA >= 1
// Eight lanes of momentum_of, prev holding the old momentums' sign bits (bit l for lane l). Only a
// lane that compares equal to zero and is not +0 (a -0: a gradient of -0, or so small that lr * g
// rounds to -0; or a denormal read as zero) needs more than x: rare, so done one lane at a time
// (a branch-free blend for every group made the update about 8% slower).
inline __m256 momentum_of8(__m256 x, unsigned prev) {
    const __m256 zero = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ);
    const __m256i plus_zero = _mm256_cmpeq_epi32(_mm256_castps_si256(x), _mm256_setzero_si256());
    const __m256i other_zero = _mm256_andnot_si256(plus_zero, _mm256_castps_si256(zero));
    if (_mm256_testz_si256(other_zero, other_zero)) return x;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, x);
    for (int l = 0; l < 8; ++l) lanes[l] = momentum_of(lanes[l], (prev >> l) & 1u);
    return _mm256_load_ps(lanes);
}
#endif

}  // namespace

bool rmsprop_update_deferred(const RmsPropScalars& s, float* var, float* ms, uint8_t* sign, const float* grad,
                             long n) {
    const long groups = (n + 7) / 8;
    long scalar_from = 0;  // the first group left to the scalar loop below
    bool finite = true;
#if MNIST_KERNEL_ISA >= 1
    scalar_from = n / 8;  // every whole group of 8 goes through the vector loop
    // The scalars as vectors, out of the loop (a store through the arrays could alias s).
    const __m256 decay = _mm256_set1_ps(s.one_minus_decay), lr = _mm256_set1_ps(s.learning_rate),
                 eps = _mm256_set1_ps(s.epsilon);
#pragma omp parallel if (n > (1 << 15))
    {
        // mom * 0 summed, lane by lane: mom * 0 is +-0 for a finite mom (and +0 + -0 == +0, so the
        // sum stays +0) and NaN for an inf or a NaN, after which the sum stays NaN. One FMA a group
        // instead of |mom|, a compare and an or: the update in 0.96-0.98 of its time (6 runs,
        // docs/benchmarks.md).
        __m256 not_finite = _mm256_setzero_ps();
#pragma omp for schedule(dynamic, kUpdatePiece) nowait
        for (long b = 0; b < scalar_from; ++b) {
            const long i0 = 8 * b;
            const __m256 g = _mm256_loadu_ps(grad + i0), m0 = _mm256_loadu_ps(ms + i0);
            const __m256 m = _mm256_fmadd_ps(_mm256_fmsub_ps(g, g, m0), decay, m0);
            _mm256_storeu_ps(ms + i0, m);
            const __m256 x = _mm256_div_ps(_mm256_mul_ps(g, lr), _mm256_sqrt_ps(_mm256_add_ps(m, eps)));
            const __m256 mom = momentum_of8(x, sign[b]);
            _mm256_storeu_ps(var + i0, _mm256_sub_ps(_mm256_loadu_ps(var + i0), mom));
            sign[b] = uint8_t(_mm256_movemask_ps(mom));
            not_finite = _mm256_fmadd_ps(mom, _mm256_setzero_ps(), not_finite);
        }
        not_finite = _mm256_cmp_ps(not_finite, not_finite, _CMP_UNORD_Q);  // the NaN lanes
        if (!_mm256_testz_ps(not_finite, not_finite)) {
#pragma omp atomic write
            finite = false;
        }
    }
#endif
    // One element at a time: every group on the plain path, a last group of fewer than 8 on the others.
#pragma omp parallel for schedule(dynamic, kUpdatePiece) reduction(&& : finite) if (groups - scalar_from > (1 << 12))
    for (long b = scalar_from; b < groups; ++b) {
        const long i0 = 8 * b;
        unsigned bits = 0;
        for (long i = i0; i < std::min(n, i0 + 8); ++i) {
            const float g = grad[i];
            ms[i] = std::fma(std::fma(g, g, -ms[i]), s.one_minus_decay, ms[i]);
            const float mom = momentum_of(scaled_step(s, g, ms[i]), (sign[b] >> (i - i0)) & 1u);
            var[i] -= mom;
            bits |= unsigned(std::signbit(mom)) << (i - i0);
            finite = finite && std::isfinite(mom);
        }
        sign[b] = uint8_t(bits);
    }
    return finite;
}

void rebuild_momentum(const RmsPropScalars& s, float* mom, const float* ms, const uint8_t* sign, const float* grad,
                     long n) {
    const long groups = (n + 7) / 8;
#pragma omp parallel for schedule(static) if (n > (1 << 15))
    for (long b = 0; b < groups; ++b)
        for (long i = 8 * b; i < std::min(n, 8 * b + 8); ++i) {
            const float x = scaled_step(s, grad[i], ms[i]);
            // sign holds the momentum's own sign bit: for a zero x, it says which zero.
            mom[i] = x != 0.0f ? x : ((sign[b] >> (i - 8 * b)) & 1u ? -0.0f : 0.0f);
        }
}

bool momentum_signs(const float* mom, uint8_t* sign, long n) {
    const long groups = (n + 7) / 8;
    bool finite = true;
#pragma omp parallel for schedule(static) reduction(&& : finite) if (n > (1 << 15))
    for (long b = 0; b < groups; ++b) {
        unsigned bits = 0;
        for (long i = 8 * b; i < std::min(n, 8 * b + 8); ++i) {
            bits |= unsigned(std::signbit(mom[i])) << (i - 8 * b);
            finite = finite && std::isfinite(mom[i]);
        }
        sign[b] = uint8_t(bits);
    }
    return finite;
}

}  // namespace MNIST_KERNEL_NS
}  // namespace mnist

#include "src/numerics/kernel_target_end.ipp"
