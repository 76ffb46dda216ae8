// The product kernels of the avx512 path (see kernels.hpp).
#define MNIST_KERNEL_ISA 2
#define MNIST_KERNEL_NS avx512
#include "src/numerics/gemm_kernels.ipp"
#include "src/numerics/sparse_kernels.ipp"
#include "src/numerics/update_kernels.ipp"
#include "src/numerics/elementwise_kernels.ipp"
