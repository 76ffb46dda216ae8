// The sparse product kernel alone, on one thread, against nothing else in the caches, and the
// ceiling of its design here; bench/bench.sh sets both beside one core's FMA peak and beside the
// products' rate inside a training step (bench_step). Each figure is the best of 5 measures, in
// GFLOPS on the multiply-adds done (zeros skipped are not counted):
//   - "one L1 load per FMA": a loop of 8 FMA chains in which every FMA reads a vector of a B row
//     picked by an index list, the rows in a 12 KB array (always in L1): what the kernel's inner
//     loop does, without its bookkeeping; and the same loop with each loaded vector feeding two
//     FMAs (16 chains). Each term of a sparse product reads its own B vector, so the first rate is
//     about as fast as the kernel can go (measures taken moments apart on a shared host may put the
//     kernel a little above it); where the second is near the FMA peak (fma_peak) and the first
//     well under it, the L1 cache's loads, not the FMA units, bound the products;
//   - "B in L1": 128 rows at density 0.30 times a 96 x 128 B already packed: one k-chunk's panel
//     (48 KB), one block of columns; what the kernel does when every load hits the L1 cache;
//   - "w_h's shape": 128 rows of 784 at density 0.15 (the inputs after dropout) times a 784 x 625 B
//     that each call packs a k-chunk at a time, as a training step's forward product does;
//   - the same with B packed once beforehand, as an evaluation does.
// The data are random (rng.hpp), not MNIST: the kernel's rate depends on how many entries a row has,
// not on where they are.
//   usage: sparse_kernel [SECONDS_PER_MEASURE]   (default 0.2)
//   prints: sparse_kernel: path avx512, 1 thread: one L1 load per FMA 85.0 GFLOPS (one load per two
//           FMAs: 170.2); the kernel: B in L1 70.9, w_h's shape 39.6 (B packed each call), 48.5 (B
//           packed once)
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <functional>
#include <vector>

#include <Eigen/Core>

#include "src/numerics/gemm.hpp"
#include "src/numerics/kernel_path.hpp"
#include "src/numerics/rng.hpp"
#include "src/numerics/sparse.hpp"

using namespace mnist;

namespace {

using Clock = std::chrono::steady_clock;

// A rows x cols row-major matrix, each element non-zero (uniform in (0, 1]) with probability density.
std::vector<float> random_matrix(int rows, int cols, double density, uint32_t stream) {
    std::vector<float> m(size_t(rows) * cols);
    for (size_t i = 0; i < m.size(); ++i) {
        const Philox4 r = random_block(7, Stream::dropout, stream, 0, uint32_t(i));
        m[i] = uniform01(r[0]) < density ? 1.0f - uniform01(r[1]) : 0.0f;
    }
    return m;
}

// GFLOPS of `product` (which does `multiply_adds` per call): the best of 5 measures of about `seconds`.
double rate(const std::function<void()>& product, double multiply_adds, double seconds) {
    product();  // warm the caches and the packing buffers
    const auto t = Clock::now();
    long calls = 0;
    while (std::chrono::duration<double>(Clock::now() - t).count() < 0.02) product(), ++calls;
    const long reps = std::max(1L, long(calls * seconds / 0.02));
    double best = 1e30;
    for (int m = 0; m < 5; ++m) {
        const auto start = Clock::now();
        for (long i = 0; i < reps; ++i) product();
        best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count() / double(reps));
    }
    return 2 * multiply_adds / best / 1e9;
}

// One L1 load per FMA: `iters` rounds of 8 chains acc[v] += value * B[index][v] (v < 8 vectors),
// (index, value) from a list of 4096 entries (the kernel's own Entry) over 24 rows; returns a sum
// of the chains. With kShare == 2 each loaded vector feeds two chains (AVX-512: 16 chains, 8 loads
// a round, the same loads with twice the FMAs; AVX2: 8 chains, 4 loads a round, half the loads for
// the same FMAs), which shows whether the loads or the FMA units set the pace.
using Entry = SparseRows::Entry;
constexpr int kRows = 24, kEntries = 4096;
template <int kShare>
__attribute__((target("avx512f"))) float loads_avx512(const float* B, const Entry* e, long iters) {
    __m512 acc[kShare][8];
    for (auto& chains : acc)
        for (__m512& a : chains) a = _mm512_setzero_ps();
    int next = e[0].index;  // read one entry ahead, as the kernel does
    for (long i = 0; i < iters; ++i) {
        const Entry& en = e[i & (kEntries - 1)];
        const float* row = B + size_t(next) * 128;
        const __m512 x = _mm512_set1_ps(en.value);
        next = e[(i + 1) & (kEntries - 1)].index;
#pragma GCC unroll 8
        for (int v = 0; v < 8; ++v) {
            __m512 b = _mm512_load_ps(row + 16 * v);
            if (kShare > 1) asm("" : "+v"(b));  // one load in a register, not one folded into each FMA
#pragma GCC unroll 2
            for (int s = 0; s < kShare; ++s) acc[s][v] = _mm512_fmadd_ps(x, b, acc[s][v]);
        }
    }
    alignas(64) float lanes[16];
    float sum = 0;
    for (auto& chains : acc)
        for (const __m512& a : chains) {
            _mm512_store_ps(lanes, a);
            for (float v : lanes) sum += v;
        }
    return sum;
}
// AVX2 has 16 vector registers: 16 chains, a loaded vector and the broadcast value would not fit
// (spilled to the stack, the loop measured 57% of the peak on Zen 3 whatever the loads). So here
// the chains stay 8 and each round loads 8 / kShare vectors of the row, each feeding kShare chains.
template <int kShare>
__attribute__((target("avx2,fma"))) float loads_avx2(const float* B, const Entry* e, long iters) {
    constexpr int kLoads = 8 / kShare;
    __m256 acc[kShare][kLoads];
    for (int s = 0; s < kShare; ++s)  // chains that start apart (the compiler would merge equal ones)
        for (__m256& a : acc[s]) a = _mm256_set1_ps(float(s));
    int next = e[0].index;  // read one entry ahead, as the kernel does
    for (long i = 0; i < iters; ++i) {
        const Entry& en = e[i & (kEntries - 1)];
        const float* row = B + size_t(next) * 64;
        const __m256 x = _mm256_set1_ps(en.value);
        next = e[(i + 1) & (kEntries - 1)].index;
#pragma GCC unroll 8
        for (int v = 0; v < kLoads; ++v) {
            __m256 b = _mm256_load_ps(row + 8 * v);
            if (kShare > 1) asm("" : "+v"(b));
#pragma GCC unroll 2
            for (int s = 0; s < kShare; ++s) acc[s][v] = _mm256_fmadd_ps(x, b, acc[s][v]);
        }
    }
    alignas(32) float lanes[8];
    float sum = 0;
    for (auto& chains : acc)
        for (const __m256& a : chains) {
            _mm256_store_ps(lanes, a);
            for (float v : lanes) sum += v;
        }
    return sum;
}
volatile float sink;

// GFLOPS of the loop above on the kernel path's vectors, each loaded vector feeding `share` FMAs
// (0 on the plain path: not measured).
double load_bound(int share, double seconds) {
    const KernelPath path = kernel_path();
    if (path == KernelPath::plain) return 0;
    const int lanes = path == KernelPath::avx512 ? 16 : 8;
    std::vector<float, Eigen::aligned_allocator<float>> B(size_t(kRows) * 8 * lanes, 1e-3f);
    std::vector<Entry> e(kEntries);
    for (int i = 0; i < kEntries; ++i)
        e[size_t(i)] = {int32_t(random_block(7, Stream::dropout, 3, 0, uint32_t(i))[0] % kRows), 1e-3f};
    const long iters = 1 << 22;
    const auto run = [&] {
        if (path == KernelPath::avx512)
            sink = share == 1 ? loads_avx512<1>(B.data(), e.data(), iters) : loads_avx512<2>(B.data(), e.data(), iters);
        else
            sink = share == 1 ? loads_avx2<1>(B.data(), e.data(), iters) : loads_avx2<2>(B.data(), e.data(), iters);
    };
    const int fmas = path == KernelPath::avx512 ? 8 * share : 8;  // vector FMAs a round (see loads_avx2)
    return rate(run, double(iters) * fmas * lanes, seconds);
}

struct Case {
    SparseRows S;
    std::vector<float> B, C;
    PackedB packed;
    Case(int m, int k, int n, double density) : B(random_matrix(k, n, 1.0, 2)), C(size_t(m) * n) {
        compress(Trans::N, m, k, random_matrix(m, k, density, 1).data(), S);
        packed = PackedB(Trans::N, k, n, B.data());
    }
    double multiply_adds() const { return double(S.nonzeros()) * packed.cols(); }
};

}  // namespace

int main(int argc, char** argv) {
    try {
        const double seconds = argc > 1 ? std::atof(argv[1]) : 0.2;
        set_compute_threads(1);
        Case l1(128, 96, 128, 0.30), wh(128, 784, 625, 0.15);
        const double in_l1 = rate([&] { sparse_gemm(l1.S, l1.packed, l1.C.data()); }, l1.multiply_adds(), seconds);
        const double packing =
            rate([&] { sparse_gemm(wh.S, Trans::N, wh.packed.cols(), wh.B.data(), wh.C.data()); }, wh.multiply_adds(), seconds);
        const double packed = rate([&] { sparse_gemm(wh.S, wh.packed, wh.C.data()); }, wh.multiply_adds(), seconds);
        const double one = load_bound(1, seconds), shared = load_bound(2, seconds);
        char loads[64] = "- GFLOPS";
        if (one > 0) std::snprintf(loads, sizeof loads, "%.1f GFLOPS (one load per two FMAs: %.1f)", one, shared);
        std::printf("sparse_kernel: path %s, 1 thread: one L1 load per FMA %s; the kernel: B in L1 %.1f, "
                    "w_h's shape %.1f (B packed each call), %.1f (B packed once)\n",
                    kernel_path_name(kernel_path()), loads, in_l1, packing, packed);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sparse_kernel: %s\n", e.what());
        return 1;
    }
}
