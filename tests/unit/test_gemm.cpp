// The fixed-tile parallel GEMM against the plain triple loop, and its independence of the thread count.
#include <catch2/catch.hpp>

#include <omp.h>

#include <cmath>
#include <cstring>

#include "src/numerics/gemm.hpp"
#include "src/numerics/rng.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;

namespace {
std::vector<float> random_matrix(size_t n, uint32_t layer) { return testutil::normal_values(n, 99, layer); }

void check_against_reference(Trans ta, Trans tb, int m, int n, int k) {
    const auto A = random_matrix(size_t(m) * k, 1), B = random_matrix(size_t(k) * n, 2);
    std::vector<float> fast(size_t(m) * n, -1.0f), ref(size_t(m) * n);
    gemm(ta, tb, m, n, k, A.data(), B.data(), fast.data());
    gemm_reference(ta, tb, m, n, k, A.data(), B.data(), ref.data());
    for (size_t i = 0; i < ref.size(); ++i) REQUIRE(fast[i] == Approx(ref[i]).margin(1e-4 * std::sqrt(double(k))));
}
}  // namespace

TEST_CASE("gemm: every transpose combination agrees with the plain triple loop", "[gemm]") {
    for (Trans ta : {Trans::N, Trans::T})
        for (Trans tb : {Trans::N, Trans::T}) {
            check_against_reference(ta, tb, 128, 625, 784);  // the model's shapes, partial edge tiles
            check_against_reference(ta, tb, 1, 1, 1);
            check_against_reference(ta, tb, 70, 131, 9);     // tiles cut in both directions
        }
}

TEST_CASE("gemm: an empty inner dimension gives zeros", "[gemm]") {
    std::vector<float> C(6, 5.0f);
    gemm(Trans::N, Trans::N, 2, 3, 0, nullptr, nullptr, C.data());
    for (float v : C) CHECK(v == 0.0f);
}

TEST_CASE("gemm: results are bit-identical on 1, 2 and 3 threads", "[gemm]") {
    const int m = 200, n = 300, k = 250;
    const auto A = random_matrix(size_t(m) * k, 3), B = random_matrix(size_t(k) * n, 4);
    std::vector<std::vector<float>> out;
    const int saved = omp_get_max_threads();
    for (int threads : {1, 2, 3}) {
        set_compute_threads(threads);
        std::vector<float> C(size_t(m) * n);
        gemm(Trans::T, Trans::N, m, n, k, A.data(), B.data(), C.data());
        out.push_back(C);
    }
    set_compute_threads(saved);
    CHECK(std::memcmp(out[0].data(), out[1].data(), out[0].size() * 4) == 0);
    CHECK(std::memcmp(out[0].data(), out[2].data(), out[0].size() * 4) == 0);
}
