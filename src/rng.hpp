// Counter-based randomness (Philox4x32-10, Salmon et al. 2011). Every random number in training is a
// pure function of (seed, purpose, position): initial weights of (seed, layer, element), the epoch's
// order of (seed, epoch), a dropout mask of (seed, step, layer, element). A resumed run therefore
// needs no generator state: the step number is enough.
#pragma once
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

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
// Written as plain loops over the eight lanes so that the compiler vectorises them (vpmuludq).
inline void random_blocks8(uint64_t seed, Stream stream, uint32_t a, uint32_t b, uint32_t index, uint32_t out[4][8]) {
    uint32_t x0[8], x1[8], x2[8], x3[8];
    for (int l = 0; l < 8; ++l) x0[l] = index + uint32_t(l), x1[l] = b, x2[l] = a, x3[l] = uint32_t(stream);
    uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
    for (int round = 0; round < 10; ++round) {
        for (int l = 0; l < 8; ++l) {
            const uint64_t p0 = uint64_t(0xD2511F53u) * x0[l];
            const uint64_t p1 = uint64_t(0xCD9E8D57u) * x2[l];
            const uint32_t n0 = uint32_t(p1 >> 32) ^ x1[l] ^ k0, n2 = uint32_t(p0 >> 32) ^ x3[l] ^ k1;
            x0[l] = n0, x1[l] = uint32_t(p1), x2[l] = n2, x3[l] = uint32_t(p0);
        }
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    for (int l = 0; l < 8; ++l) out[0][l] = x0[l], out[1][l] = x1[l], out[2][l] = x2[l], out[3][l] = x3[l];
}

// A float uniform in [0, 1) with 24 random bits.
inline float uniform01(uint32_t bits) { return float(bits >> 8) * (1.0f / 16777216.0f); }

// Fills out[0..n) with N(0, stddev^2) draws (Box-Muller on doubles, rounded to float) for a layer.
void fill_normal(float* out, size_t n, float stddev, uint64_t seed, uint32_t layer);

// The order of the training set in `epoch` (Fisher-Yates driven by the stream (shuffle, epoch)).
void shuffled_order(std::vector<uint32_t>& order, size_t n, uint64_t seed, uint64_t epoch);

}  // namespace mnist
