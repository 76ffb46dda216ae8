// The product kernels of the plain path (see kernels.hpp).
#define MNIST_KERNEL_ISA 0
#define MNIST_KERNEL_NS plain
#include "src/numerics/gemm_kernels.ipp"
#include "src/numerics/sparse_kernels.ipp"
#include "src/numerics/update_kernels.ipp"
#include "src/numerics/elementwise_kernels.ipp"
