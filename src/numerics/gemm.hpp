// Matrix products on OpenMP threads whose results do not depend on the number of threads.
// The output is cut into tiles of a fixed shape, each computed by one thread. Every kernel path
// (kernel_path.hpp: AVX-512, AVX2/FMA or plain std::fma, chosen at run time from the CPU) sums every
// output element as one FMA chain over k in plain order from +0, so its bits depend neither on
// tiles, threads nor path (and sparse.hpp's products that skip zero terms give the same bits).
#pragma once

namespace mnist {

enum class Trans { N, T };

// Sets the OpenMP team size (0: all cores) and makes every thread of the team, and the caller,
// flush denormal floats to zero, as TensorFlow does on CPU. Call before computing: a thread that
// kept denormals would round differently (and run far slower on RMSProp slots decaying to zero).
// Also keeps parallel regions from nesting (OpenMP's default unless OMP_NESTED or a list in
// OMP_NUM_THREADS says otherwise): a product called inside a parallel region, as evaluate's chunks
// call them, runs on its own thread instead of starting a team per thread.
void set_compute_threads(int threads);

// Output tile shape (rows x cols of C). Fixed: changing them changes the bits of every result.
constexpr int kTileRows = 96;
constexpr int kTileCols = 64;

// C[m x n] = op(A) * op(B), all row-major and densely packed. op(A) is m x k: A is stored m x k for
// Trans::N, k x m for Trans::T; op(B) is k x n: B is stored k x n for Trans::N, n x k for Trans::T.
// Runs on the current OpenMP team size; allocates nothing on the heap. On the vector paths, A^T B
// with n <= 16 (w_o's gradient) and A B^T with k <= 16 (the product back through w_o) run on
// kernels of their own (gemm_kernels.ipp), the same FMA chains.
void gemm(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C);

// The plain triple loop (double accumulation), the reference the tests compare gemm with.
void gemm_reference(Trans ta, Trans tb, int m, int n, int k, const float* A, const float* B, float* C);

}  // namespace mnist
