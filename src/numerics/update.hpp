// The element-wise arithmetic of the RMSProp update (TensorFlow 1.x semantics), on the active kernel
// path (kernel_path.hpp): the same bits on every path.
#pragma once
#include <cstdint>

namespace mnist {

struct RmsPropScalars {
    float learning_rate, one_minus_decay, momentum, epsilon;
};

// For i in [0, n): ms += (g*g - ms) * (1 - decay); mom = mom * momentum + g * lr / sqrt(ms + eps);
// var -= mom, with g = grad[i], each a + b * c rounded once (an FMA), as below:
//   ms = fma(fma(g, g, -ms), 1 - decay, ms); mom = fma(mom, momentum, (g * lr) / sqrt(ms + eps)).
// Runs on the current OpenMP team when n is large.
void rmsprop_update(const RmsPropScalars& s, float* var, float* ms, float* mom, const float* grad, long n);

// The momentum slot deferred, for momentum == +0: then mom = fma(mom, 0, x) with
// x = (g * lr) / sqrt(ms + eps) is x itself for a finite mom, except where x compares equal to
// zero: there it is -0 if x and the old mom both have their sign bit set, else +0 (mom * 0 is a
// zero of mom's sign, and +0 + -0 == +0). So the slot need not be read or written in each update:
// one sign bit per element (sign[i / 8] bit i % 8, the sign bit of element i's momentum), the last
// gradient and ms give it back exactly.
//
// rmsprop_update with s.momentum == +0 for elements whose momentum is finite, without touching mom:
// reads the old momentum's sign bits from `sign` (only where x is zero) and writes the new one's.
// Returns whether every new momentum is finite (if not, rebuild_momentum before the next update,
// which must then read the slot). The same bits of var and ms as rmsprop_update.
bool rmsprop_update_deferred(const RmsPropScalars& s, float* var, float* ms, uint8_t* sign, const float* grad, long n);

// mom = the momentum rmsprop_update would have written in the last rmsprop_update_deferred, from the
// same grad and the ms and sign that call left.
void rebuild_momentum(const RmsPropScalars& s, float* mom, const float* ms, const uint8_t* sign, const float* grad,
                     long n);

// sign = the sign bits of mom[0..n) (n / 8 rounded up bytes); returns whether every element is finite.
bool momentum_signs(const float* mom, uint8_t* sign, long n);

}  // namespace mnist
