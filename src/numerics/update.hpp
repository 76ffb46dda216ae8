// The element-wise arithmetic of the RMSProp update (TensorFlow 1.x semantics), on the active kernel
// path (kernel_path.hpp): the same bits on every path.
#pragma once

namespace mnist {

struct RmsPropScalars {
    float learning_rate, one_minus_decay, momentum, epsilon;
};

// For i in [0, n): ms += (g*g - ms) * (1 - decay); mom = mom * momentum + g * lr / sqrt(ms + eps);
// var -= mom, with g = grad[i], each a + b * c rounded once (an FMA), as below:
//   ms = fma(fma(g, g, -ms), 1 - decay, ms); mom = fma(mom, momentum, (g * lr) / sqrt(ms + eps)).
// Runs on the current OpenMP team when n is large.
void rmsprop_update(const RmsPropScalars& s, float* var, float* ms, float* mom, const float* grad, long n);

}  // namespace mnist
