// The counter-based generator: known Philox answers, and draws that are pure functions of their position.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "src/numerics/rng.hpp"

using namespace mnist;

TEST_CASE("rng: philox4x32-10 matches the Random123 known-answer vectors", "[rng]") {
    // Random123's kat_vectors: philox4x32 10 rounds, counter 0 / key 0, and counter pi digits / key.
    CHECK(philox4x32({0, 0, 0, 0}, 0) == Philox4{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u});
    CHECK(philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 0xffffffffffffffffull) ==
          Philox4{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu});
    CHECK(philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, 0x299f31d0a4093822ull) ==
          Philox4{0xd16cfe09u, 0x94fdcceb, 0x5001e420u, 0x24126ea1u});
}

TEST_CASE("rng: normal draws have the requested spread and depend only on seed and layer", "[rng]") {
    std::vector<float> a(20000), b(20000), c(20000);
    fill_normal(a.data(), a.size(), 0.01f, 7, 0);
    fill_normal(b.data(), b.size(), 0.01f, 7, 0);
    fill_normal(c.data(), c.size(), 0.01f, 7, 1);
    CHECK(a == b);
    CHECK(a != c);
    double sum = 0, sq = 0;
    for (float v : a) sum += v, sq += double(v) * v;
    const double mean = sum / a.size(), sd = std::sqrt(sq / a.size() - mean * mean);
    CHECK(std::abs(mean) < 0.0005);
    CHECK(sd == Approx(0.01).epsilon(0.03));
}

TEST_CASE("rng: an epoch order is a permutation fixed by seed and epoch", "[rng]") {
    std::vector<uint32_t> a, b, c;
    shuffled_order(a, 1000, 3, 5);
    shuffled_order(b, 1000, 3, 5);
    shuffled_order(c, 1000, 3, 6);
    CHECK(a == b);
    CHECK(a != c);
    std::vector<uint32_t> sorted = a;
    std::sort(sorted.begin(), sorted.end());
    for (uint32_t i = 0; i < 1000; ++i) REQUIRE(sorted[i] == i);
}

TEST_CASE("rng: uniform floats are at least 0 and below 1", "[rng]") {
    CHECK(uniform01(0) == 0.0f);
    CHECK(uniform01(0xffffffffu) < 1.0f);
    CHECK(uniform01(0x80000000u) == 0.5f);
}

TEST_CASE("rng: eight blocks at once (AVX2 where built with it) equal eight single blocks", "[rng]") {
    uint32_t r[4][8];
    random_blocks8(0x1234567890ull, Stream::dropout, 77, 3, 1000, r);
    for (uint32_t l = 0; l < 8; ++l) {
        const Philox4 one = random_block(0x1234567890ull, Stream::dropout, 77, 3, 1000 + l);
        for (int w = 0; w < 4; ++w) REQUIRE(r[w][l] == one[w]);
    }
}
