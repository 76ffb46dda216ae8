// The RMSProp update's arithmetic, compiled once per kernel path like gemm_kernels.ipp (see there).
// Every rounding is spelled out with std::fma, so each path (vector FMA instructions, or the C
// library's exact fmaf on the plain path) gives the same bits as the -march=native builds that
// wrote the reference checkpoints (GCC contracted this loop into exactly these FMAs).
#include <cmath>

#include "src/numerics/kernels.hpp"
#include "src/numerics/kernel_target.ipp"

namespace mnist {
namespace MNIST_KERNEL_NS {

void rmsprop_update(const RmsPropScalars& s, float* var, float* ms, float* mom, const float* grad, long n) {
#pragma omp parallel for schedule(static) if (n > (1 << 15))
    for (long i = 0; i < n; ++i) {
        const float g = grad[i];
        ms[i] = std::fma(std::fma(g, g, -ms[i]), s.one_minus_decay, ms[i]);  // ms + (g*g - ms) * (1 - decay)
        mom[i] = std::fma(mom[i], s.momentum, (g * s.learning_rate) / std::sqrt(ms[i] + s.epsilon));
        var[i] -= mom[i];
    }
}

}  // namespace MNIST_KERNEL_NS
}  // namespace mnist

#include "src/numerics/kernel_target_end.ipp"
