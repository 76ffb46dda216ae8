// The element-wise passes (elementwise.hpp): calls into the active kernel path's.
#include "src/numerics/elementwise.hpp"

#include "src/numerics/kernel_path.hpp"
#include "src/numerics/kernels.hpp"

namespace mnist {

void dropout_inplace(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,
                     uint32_t b) {
    switch (kernel_path()) {
        case KernelPath::avx512: return avx512::dropout_inplace(x, count, offset, keep, relu, seed, a, b);
        case KernelPath::avx2: return avx2::dropout_inplace(x, count, offset, keep, relu, seed, a, b);
        case KernelPath::plain: break;
    }
    plain::dropout_inplace(x, count, offset, keep, relu, seed, a, b);
}

void through_activation(float* dh, const float* h, size_t count, float keep) {
    switch (kernel_path()) {
        case KernelPath::avx512: return avx512::through_activation(dh, h, count, keep);
        case KernelPath::avx2: return avx2::through_activation(dh, h, count, keep);
        case KernelPath::plain: break;
    }
    plain::through_activation(dh, h, count, keep);
}

}  // namespace mnist
