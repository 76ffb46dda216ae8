// The product kernels of the avx2 path (see kernels.hpp).
#define MNIST_KERNEL_ISA 1
#define MNIST_KERNEL_NS avx2
#include "src/numerics/gemm_kernels.ipp"
#include "src/numerics/sparse_kernels.ipp"
#include "src/numerics/update_kernels.ipp"
#include "src/numerics/elementwise_kernels.ipp"
