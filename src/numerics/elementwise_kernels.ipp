// The element-wise kernels (elementwise.hpp), compiled once per kernel path like gemm_kernels.ipp
// (see there). The vector paths compute eight Philox blocks in AVX2 registers and mask eight floats
// at a time; the arithmetic per element is the plain loop's (a compare, one division).
#include <omp.h>

#include <algorithm>

#include "src/numerics/kernels.hpp"
#include "src/numerics/rng.hpp"

#if MNIST_KERNEL_ISA >= 1
#include <immintrin.h>
#endif
#include "src/numerics/kernel_target.ipp"

namespace mnist {
namespace MNIST_KERNEL_NS {
namespace {

// Below this many elements an element-wise pass runs on one thread: waking the team costs more.
constexpr long kParallelMin = 1 << 15;

#if MNIST_KERNEL_ISA >= 1
// (hi, lo) 32-bit halves of the eight products x[l] * m.
inline void mulhilo8(__m256i x, __m256i m, __m256i& hi, __m256i& lo) {
    const __m256i even = _mm256_mul_epu32(x, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
#endif

// out[w][l] = word w of random_block(seed, stream, a, b, index + l), l < 8.
inline void blocks8(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index, uint32_t out[4][8]) {
#if MNIST_KERNEL_ISA >= 1
    __m256i x0 = _mm256_add_epi32(_mm256_set1_epi32(int(index)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i x1 = _mm256_set1_epi32(int(b)), x2 = _mm256_set1_epi32(int(a)), x3 = _mm256_set1_epi32(int(stream));
    const __m256i m0 = _mm256_set1_epi32(int(0xD2511F53u)), m1 = _mm256_set1_epi32(int(0xCD9E8D57u));
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        __m256i hi0, lo0, hi1, lo1;
        mulhilo8(x0, m0, hi0, lo0);
        mulhilo8(x2, m1, hi1, lo1);
        x0 = _mm256_xor_si256(_mm256_xor_si256(hi1, x1), _mm256_set1_epi32(int(k0)));
        x1 = lo1;
        x2 = _mm256_xor_si256(_mm256_xor_si256(hi0, x3), _mm256_set1_epi32(int(k1)));
        x3 = lo0;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[0]), x0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[1]), x1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[2]), x2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out[3]), x3);
#else
    for (uint32_t l = 0; l < 8; ++l) {
        const Philox4 r = philox4x32({index + l, b, a, uint32_t(stream)}, seed);
        for (int w = 0; w < 4; ++w) out[w][l] = r[w];
    }
#endif
}

// The 32 elements of a whole group: x[0..32) masked by the words r.
inline void mask_group(float* v, const uint32_t r[4][8], float keep, bool relu) {
#if MNIST_KERNEL_ISA >= 1
    const __m256 vkeep = _mm256_set1_ps(keep), scale = _mm256_set1_ps(1.0f / 16777216.0f);
    for (int w = 0; w < 4; ++w) {
        const __m256i bits = _mm256_srli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(r[w])), 8);
        __m256 mask = _mm256_cmp_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(bits), scale), vkeep, _CMP_LT_OQ);
        const __m256 val = _mm256_loadu_ps(v + 8 * w);
        if (relu) mask = _mm256_and_ps(mask, _mm256_cmp_ps(val, _mm256_setzero_ps(), _CMP_GT_OQ));
        _mm256_storeu_ps(v + 8 * w, _mm256_and_ps(mask, _mm256_div_ps(val, vkeep)));
    }
#else
    for (int e = 0; e < 32; ++e) {
        const bool kept = float(r[e / 8][e % 8] >> 8) * (1.0f / 16777216.0f) < keep;
        v[e] = (kept && (!relu || v[e] > 0.0f)) ? v[e] / keep : 0.0f;
    }
#endif
}

}  // namespace

void dropout_inplace(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                     uint32_t b) {
    const size_t end = offset + count;
    const long g0 = long(offset / 32), groups = long((end + 31) / 32) - g0;
#pragma omp parallel for schedule(static) if (groups > kParallelMin / 32)
    for (long g = 0; g < groups; ++g) {
        alignas(32) uint32_t r[4][8];
        blocks8(seed, Stream::dropout, a, b, uint32_t((g0 + g) * 8), r);
        const size_t base = size_t(g0 + g) * 32, lo = std::max(base, offset), hi = std::min(base + 32, end);
        if (lo == base && hi == base + 32) {
            mask_group(x + (base - offset), r, keep, relu);
            continue;
        }
        for (size_t i = lo; i < hi; ++i) {  // a group cut by the slice's ends
            const size_t e = i - base;
            float& v = x[i - offset];
            const bool kept = float(r[e / 8][e % 8] >> 8) * (1.0f / 16777216.0f) < keep;
            v = (kept && (!relu || v > 0.0f)) ? v / keep : 0.0f;
        }
    }
}

void through_activation(float* dh, const float* h, size_t count, float keep) {
    const long groups = long(count / 8);
#pragma omp parallel for schedule(static) if (long(count) > kParallelMin)
    for (long g = 0; g < groups; ++g) {
#if MNIST_KERNEL_ISA >= 1
        const __m256 active = _mm256_cmp_ps(_mm256_loadu_ps(h + 8 * g), _mm256_setzero_ps(), _CMP_GT_OQ);
        const __m256 scaled = _mm256_div_ps(_mm256_loadu_ps(dh + 8 * g), _mm256_set1_ps(keep));
        _mm256_storeu_ps(dh + 8 * g, _mm256_and_ps(active, scaled));
#else
        for (long i = 8 * g; i < 8 * g + 8; ++i) dh[i] = h[i] > 0.0f ? dh[i] / keep : 0.0f;
#endif
    }
    for (size_t i = size_t(groups) * 8; i < count; ++i) dh[i] = h[i] > 0.0f ? dh[i] / keep : 0.0f;
}

}  // namespace MNIST_KERNEL_NS
}  // namespace mnist

#include "src/numerics/kernel_target_end.ipp"
