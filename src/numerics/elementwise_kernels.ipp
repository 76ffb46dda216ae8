// The element-wise kernels (elementwise.hpp), compiled once per kernel path like gemm_kernels.ipp
// (see there). The vector paths compute sixteen Philox blocks at a time (one AVX-512 register a
// word, or two sets of eight in AVX2 registers) and mask sixteen floats (eight) at a time; the
// arithmetic per element is the plain loop's (a compare, one division), so every path gives the
// same bits.
#include <omp.h>

#include <algorithm>
#include <cstring>

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

// Groups of 32 elements masked at once: two on the vector paths (sixteen Philox blocks: one
// AVX-512 register, or two sets of eight in AVX2 registers), one on the plain loop.
constexpr int kGroups = MNIST_KERNEL_ISA >= 1 ? 2 : 1;
constexpr int kBlocks = 8 * kGroups;  // Philox blocks of 4 words, one word per element

#if MNIST_KERNEL_ISA == 2
// GCC 12's AVX-512 shift and multiply intrinsics pass a deliberately undefined vector as the
// unused merge operand, which -Wmaybe-uninitialized reports where they are inlined (GCC bug
// 105593, fixed in GCC 13): silenced from here to the end of the file.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
using Words = __m512i;
inline Words words_set1(uint32_t v) { return _mm512_set1_epi32(int(v)); }
inline Words words_xor(Words a, Words b) { return _mm512_xor_si512(a, b); }
// (hi, lo) 32-bit halves of the sixteen products x[l] * m.
inline void mulhilo(Words x, Words m, Words& hi, Words& lo) {
    const Words even = _mm512_mul_epu32(x, m);
    const Words odd = _mm512_mul_epu32(_mm512_srli_epi64(x, 32), m);
    lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
}
inline Words lane_indices(uint32_t index) {
    return _mm512_add_epi32(words_set1(index), _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
}
inline void store_words(uint32_t* out, Words v) { _mm512_store_si512(out, v); }
#elif MNIST_KERNEL_ISA == 1
using Words = __m256i;
inline Words words_set1(uint32_t v) { return _mm256_set1_epi32(int(v)); }
inline Words words_xor(Words a, Words b) { return _mm256_xor_si256(a, b); }
// (hi, lo) 32-bit halves of the eight products x[l] * m.
inline void mulhilo(Words x, Words m, Words& hi, Words& lo) {
    const Words even = _mm256_mul_epu32(x, m);
    const Words odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
inline Words lane_indices(uint32_t index) {
    return _mm256_add_epi32(words_set1(index), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline void store_words(uint32_t* out, Words v) { _mm256_store_si256(reinterpret_cast<__m256i*>(out), v); }
#endif

#if MNIST_KERNEL_ISA >= 1
// Philox blocks per register of words.
constexpr int kLanes = int(sizeof(Words) / sizeof(uint32_t));

// out[w][l] = word w of random_block(seed, stream, a, b, index + l) for l in the SETS sets of
// kLanes blocks from set `first` on (l in [first * kLanes, (first + SETS) * kLanes)). The sets are
// independent, one register each, advanced side by side round by round: a round waits on the one
// before (a multiply, shifts, a blend, xors), and with eight blocks at a time that chain left the
// vector units idle. Sixteen blocks as two sets of eight: the AVX2 words in 0.8 of their time, the
// dropout passes (words, masks, non-zeros) in about 0.9 (docs/benchmarks.md).
template <int SETS>
inline void random_words(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index, int first,
                         uint32_t out[4][kBlocks]) {
    Words x0[SETS], x1[SETS], x2[SETS], x3[SETS];
#pragma GCC unroll 2
    for (int q = 0; q < SETS; ++q) {
        x0[q] = lane_indices(index + uint32_t((first + q) * kLanes));
        x1[q] = words_set1(b);
        x2[q] = words_set1(a);
        x3[q] = words_set1(uint32_t(stream));
    }
    const Words m0 = words_set1(0xD2511F53u), m1 = words_set1(0xCD9E8D57u);
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
#pragma GCC unroll 2
        for (int q = 0; q < SETS; ++q) {
            Words hi0, lo0, hi1, lo1;
            mulhilo(x0[q], m0, hi0, lo0);
            mulhilo(x2[q], m1, hi1, lo1);
            x0[q] = words_xor(words_xor(hi1, x1[q]), words_set1(k0));
            x1[q] = lo1;
            x2[q] = words_xor(words_xor(hi0, x3[q]), words_set1(k1));
            x3[q] = lo0;
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
#pragma GCC unroll 2
    for (int q = 0; q < SETS; ++q) {
        const int at = (first + q) * kLanes;
        store_words(out[0] + at, x0[q]);
        store_words(out[1] + at, x1[q]);
        store_words(out[2] + at, x2[q]);
        store_words(out[3] + at, x3[q]);
    }
}
#endif

// The words of the groups of 32 elements marked in `needed` (bit h: group h of the step), whose
// blocks start at `index`: out as random_words says, for those groups' blocks at least.
inline void words_for_groups(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index, unsigned needed,
                             uint32_t out[4][kBlocks]) {
#if MNIST_KERNEL_ISA >= 1
    constexpr int kSets = kBlocks / kLanes, kGroupsPerSet = kLanes / 8;
    if constexpr (kSets == 2) {
        if (needed == 1u || needed == 2u) {
            // One group of the pair only (the other all +0, as at the input's blank borders): one set.
            random_words<1>(seed, stream, a, b, index, needed == 1u ? 0 : 1, out);
            return;
        }
    }
    static_assert(kSets * kGroupsPerSet == kGroups, "a step's groups are its sets' blocks");
    random_words<kSets>(seed, stream, a, b, index, 0, out);
#else
    (void)needed;
    for (uint32_t l = 0; l < kBlocks; ++l) {
        const Philox4 r = philox4x32({index + l, b, a, uint32_t(stream)}, seed);
        for (int w = 0; w < 4; ++w) out[w][l] = r[w];
    }
#endif
}

// Element e (< 32) of the h-th group of the words r is kept with the word r[e / 8][8 h + e % 8].
inline uint32_t element_word(const uint32_t r[4][kBlocks], int h, size_t e) { return r[e / 8][8 * h + e % 8]; }

// The 32 elements of the h-th whole group of the words r: v[0..32) masked.
inline void mask_group(float* v, const uint32_t r[4][kBlocks], int h, float keep, bool relu) {
#if MNIST_KERNEL_ISA == 2
    const __m512 vkeep = _mm512_set1_ps(keep), scale = _mm512_set1_ps(1.0f / 16777216.0f);
    for (int q = 0; q < 2; ++q) {  // elements 16 q ..: words 2 q and 2 q + 1, lanes 8 h ..
        const __m256i lo = _mm256_load_si256(reinterpret_cast<const __m256i*>(r[2 * q] + 8 * h));
        const __m256i hi = _mm256_load_si256(reinterpret_cast<const __m256i*>(r[2 * q + 1] + 8 * h));
        const __m512i bits = _mm512_srli_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), 8);
        __mmask16 kept = _mm512_cmp_ps_mask(_mm512_mul_ps(_mm512_cvtepi32_ps(bits), scale), vkeep, _CMP_LT_OQ);
        const __m512 val = _mm512_loadu_ps(v + 16 * q);
        if (relu) kept &= _mm512_cmp_ps_mask(val, _mm512_setzero_ps(), _CMP_GT_OQ);
        _mm512_storeu_ps(v + 16 * q, _mm512_maskz_div_ps(kept, val, vkeep));
    }
#elif MNIST_KERNEL_ISA == 1
    const __m256 vkeep = _mm256_set1_ps(keep), scale = _mm256_set1_ps(1.0f / 16777216.0f);
    for (int w = 0; w < 4; ++w) {
        const __m256i bits = _mm256_srli_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(r[w] + 8 * h)), 8);
        __m256 mask = _mm256_cmp_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(bits), scale), vkeep, _CMP_LT_OQ);
        const __m256 val = _mm256_loadu_ps(v + 8 * w);
        if (relu) mask = _mm256_and_ps(mask, _mm256_cmp_ps(val, _mm256_setzero_ps(), _CMP_GT_OQ));
        _mm256_storeu_ps(v + 8 * w, _mm256_and_ps(mask, _mm256_div_ps(val, vkeep)));
    }
#else
    for (int e = 0; e < 32; ++e) {
        const bool kept = float(element_word(r, h, size_t(e)) >> 8) * (1.0f / 16777216.0f) < keep;
        v[e] = (kept && (!relu || v[e] > 0.0f)) ? v[e] / keep : 0.0f;
    }
#endif
}

// The groups of 32 elements a slice touches, and the steps dropout_steps takes through them.
long dropout_groups(size_t count, size_t offset) { return long((offset + count + 31) / 32) - long(offset / 32); }
long dropout_step_count(size_t count, size_t offset) { return (dropout_groups(count, offset) + kGroups - 1) / kGroups; }

// Whether the group of 32 elements from `base` (an element of the layer) lies wholly in the slice
// x (elements offset..end of the layer) and holds +0 and nothing else. Dropout without ReLU leaves
// +0 as it is, kept or not (a kept -0 stays -0, a dropped one becomes +0: not skipped), so such a
// group need not be masked nor its words drawn: the input's blank borders, about 29% of the groups
// of an MNIST batch.
bool plus_zeros_only(const float* x, size_t offset, size_t end, size_t base) {
    if (base < offset || base + 32 > end) return false;
    const float* v = x + (base - offset);
    uint32_t bits = 0;
    for (int e = 0; e < 32; ++e) {
        uint32_t u;
        std::memcpy(&u, v + e, sizeof u);
        bits |= u;
    }
    return bits == 0;
}

// Steps [s_begin, s_end) of dropout_inplace's loop over the slice: each step draws the words of
// kGroups groups of 32 elements at once and masks those groups (a group cut by the slice's ends
// element by element).
void dropout_steps(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a, uint32_t b,
                   long s_begin, long s_end) {
    const size_t end = offset + count;
    const long g0 = long(offset / 32), groups = dropout_groups(count, offset);
    for (long s = s_begin; s < s_end; ++s) {
        unsigned needed = 0;  // bit h: group h of the step is masked
        for (int h = 0; h < kGroups && s * kGroups + h < groups; ++h)
            if (relu || !plus_zeros_only(x, offset, end, size_t(g0 + s * kGroups + h) * 32)) needed |= 1u << h;
        if (!needed) continue;
        alignas(64) uint32_t r[4][kBlocks];
        words_for_groups(seed, Stream::dropout, a, b, uint32_t((g0 + s * kGroups) * 8), needed, r);
        for (int h = 0; h < kGroups && s * kGroups + h < groups; ++h) {
            if (!(needed & (1u << h))) continue;
            const size_t base = size_t(g0 + s * kGroups + h) * 32, lo = std::max(base, offset);
            const size_t hi = std::min(base + 32, end);
            if (lo == base && hi == base + 32) {
                mask_group(x + (base - offset), r, h, keep, relu);
                continue;
            }
            for (size_t i = lo; i < hi; ++i) {  // a group cut by the slice's ends
                float& v = x[i - offset];
                const bool kept = float(element_word(r, h, i - base) >> 8) * (1.0f / 16777216.0f) < keep;
                v = (kept && (!relu || v > 0.0f)) ? v / keep : 0.0f;
            }
        }
    }
}

}  // namespace

void dropout_serial(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                    uint32_t b) {
    dropout_steps(x, count, offset, keep, relu, seed, a, b, 0, dropout_step_count(count, offset));
}

void dropout_inplace(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                     uint32_t b) {
    const long steps = dropout_step_count(count, offset);
#pragma omp parallel for schedule(static) if (dropout_groups(count, offset) > kParallelMin / 32)
    for (long s = 0; s < steps; ++s) dropout_steps(x, count, offset, keep, relu, seed, a, b, s, s + 1);
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

#if MNIST_KERNEL_ISA == 2
#pragma GCC diagnostic pop
#endif

#include "src/numerics/kernel_target_end.ipp"
