// Normal draws and epoch orders built on the counter-based generator in rng.hpp.
#include "src/numerics/rng.hpp"

#include <numeric>

namespace mnist {

void fill_normal(float* out, size_t n, float stddev, uint64_t seed, uint32_t layer) {
    const double two_pi = 6.283185307179586476925286766559;
    for (size_t i = 0; i < n; i += 2) {
        const Philox4 r = random_block(seed, Stream::init, layer, 0, uint32_t(i / 2));
        // 53-bit uniforms in (0, 1]; log of 0 is avoided by the +1.
        const double u1 = (double((uint64_t(r[0]) << 21) ^ (r[1] >> 11)) + 1.0) * 0x1p-53;
        const double u2 = double((uint64_t(r[2]) << 21) ^ (r[3] >> 11)) * 0x1p-53;
        const double radius = std::sqrt(-2.0 * std::log(u1)) * stddev;
        out[i] = float(radius * std::cos(two_pi * u2));
        if (i + 1 < n) out[i + 1] = float(radius * std::sin(two_pi * u2));
    }
}

void shuffled_order(std::vector<uint32_t>& order, size_t n, uint64_t seed, uint64_t epoch) {
    order.resize(n);
    std::iota(order.begin(), order.end(), 0u);
    for (size_t i = n; i > 1; --i) {
        const Philox4 r = random_block(seed, Stream::shuffle, uint32_t(epoch), uint32_t(epoch >> 32),
                                       uint32_t(i));
        // Lemire's multiply-shift on 64 random bits: bias below 2^-32 for n < 2^32.
        const uint64_t bits = (uint64_t(r[0]) << 32) | r[1];
        const uint64_t j = uint64_t((unsigned __int128)bits * i >> 64);
        std::swap(order[i - 1], order[j]);
    }
}

}  // namespace mnist
