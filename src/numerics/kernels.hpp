// The product kernels of each path (kernel_path.hpp), one namespace per path: kernels_avx512.cpp,
// kernels_avx2.cpp and kernels_plain.cpp compile the same code (gemm_kernels.ipp,
// sparse_kernels.ipp, update_kernels.ipp,
// elementwise_kernels.ipp) for each. gemm.cpp and sparse.cpp call the active path's. Internal to
// src/numerics.
#pragma once
#include <cstdint>
#include <limits>

#include "src/numerics/gemm.hpp"
#include "src/numerics/sparse.hpp"
#include "src/numerics/update.hpp"
#include "src/numerics/elementwise.hpp"

namespace mnist {

// Follows the last entry of every row of a SparseRows: its index is past every column, so a loop
// over a row's entries needs no separate end test.
constexpr SparseRows::Entry kSentinel = {std::numeric_limits<int32_t>::max(), 0.0f};

#define MNIST_DECLARE_KERNELS(ns)                                                                              \
    namespace ns {                                                                                             \
    void gemm(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C);              \
    void compress(Trans ta, int m, int k, const float* A, SparseRows& S);                                      \
    void relu_compress(int m, int k, float* A, SparseRows& S);                                                 \
    void dropout_compress(int m, int k, float* A, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a, \
                          uint32_t b, SparseRows& S);                                                          \
    void sparse_gemm_tasks(const SparseRows& S, Trans tb, int n, const float* B, const PackedB* packed,        \
                           float* C, int row_begin, int row_end, bool go_on);                                  \
    int block_cols();                                                                                          \
    void rmsprop_update(const RmsPropScalars& s, float* var, float* ms, float* mom, const float* grad, long n); \
    bool rmsprop_update_deferred(const RmsPropScalars& s, float* var, float* ms, uint8_t* sign, const float* grad, \
                                 long n);                                                                      \
    void rebuild_momentum(const RmsPropScalars& s, float* mom, const float* ms, const uint8_t* sign,            \
                         const float* grad, long n);                                                           \
    bool momentum_signs(const float* mom, uint8_t* sign, long n);                                              \
    int padded_width(int w);                                                                                   \
    void pack_panel(Trans tb, const float* B, int K, int n, int j0, int w, int k0, int k1, int ldp, float* panel); \
    void dropout_inplace(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,  \
                         uint32_t b);                                                                          \
    void dropout_serial(float* x, size_t count, size_t offset, float keep, bool relu, uint64_t seed, uint32_t a,   \
                        uint32_t b);                                                                           \
    void through_activation(float* dh, const float* h, size_t count, float keep);                              \
    }

MNIST_DECLARE_KERNELS(avx512)
MNIST_DECLARE_KERNELS(avx2)
MNIST_DECLARE_KERNELS(plain)

#undef MNIST_DECLARE_KERNELS

}  // namespace mnist
