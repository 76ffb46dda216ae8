// Counter-based randomness (Philox4x32-10, Salmon et al. 2011). Every random number in training is a
// pure function of (seed, purpose, position): initial weights of (seed, layer, element), the epoch's
// order of (seed, epoch), a dropout mask of (seed, step, layer, element). A resumed run therefore
// needs no generator state: the step number is enough.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace mnist {

// What a stream of random numbers is for; part of the counter, so streams never overlap.
enum class Stream : uint32_t { init = 1, shuffle = 2, dropout = 3 };

using Philox4 = std::array<uint32_t, 4>;

inline Philox4 philox4x32(Philox4 ctr, uint64_t seed) {
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        const uint64_t p0 = uint64_t(0xD2511F53u) * ctr[0];
        const uint64_t p1 = uint64_t(0xCD9E8D57u) * ctr[2];
        ctr = {uint32_t(p1 >> 32) ^ ctr[1] ^ k0, uint32_t(p1), uint32_t(p0 >> 32) ^ ctr[3] ^ k1, uint32_t(p0)};
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    return ctr;
}

// Four 32-bit random words for block `index` of the stream (stream, a, b).
inline Philox4 random_block(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index) {
    return philox4x32({index, b, a, uint32_t(stream)}, seed);
}

// Eight consecutive blocks at once: out[w][l] is word w of random_block(seed, stream, a, b, index + l).
// AVX2 computes the eight lanes in vector registers; the plain loop is the reference and fallback.
inline void random_blocks8_reference(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index,
                                     uint32_t out[4][8]) {
    for (uint32_t l = 0; l < 8; ++l) {
        const Philox4 r = random_block(seed, stream, a, b, index + l);
        for (int w = 0; w < 4; ++w) out[w][l] = r[w];
    }
}

#if defined(__AVX2__)
// (hi, lo) 32-bit halves of the eight products x[l] * m.
inline void mulhilo8(__m256i x, __m256i m, __m256i& hi, __m256i& lo) {
    const __m256i even = _mm256_mul_epu32(x, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(x, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
}
#endif

inline void random_blocks8(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index, uint32_t out[4][8]) {
#if defined(__AVX2__)
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
    random_blocks8_reference(seed, stream, a, b, index, out);
#endif
}

// A float uniform in [0, 1) with 24 random bits.
inline float uniform01(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

// Fills out[0..n) with N(0, stddev^2) draws (Box-Muller on doubles, rounded to float) for a layer.
void fill_normal(float* out, size_t n, float stddev, uint64_t seed, uint32_t layer);

// The order of the training set in `epoch` (Fisher-Yates driven by the stream (shuffle, epoch)).
void shuffled_order(std::vector<uint32_t>& order, size_t n, uint64_t seed, uint64_t epoch);

}  // namespace mnist
