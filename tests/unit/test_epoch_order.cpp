// Which rows each step trains on: a pure function of (seed, epoch) and the step.
#include <catch2/catch.hpp>

#include <set>

#include "src/numerics/rng.hpp"
#include "src/train/epoch_order.hpp"

using namespace mnist;

TEST_CASE("epoch_order: step s takes batch s mod steps of epoch s / steps of the shuffled order", "[epoch_order]") {
    const size_t n = 103;
    const int64_t batch = 10, steps = 10;
    EpochOrder order(n, batch, steps, 5, true);
    for (int64_t s = 0; s < 3 * steps; ++s) {
        std::vector<uint32_t> expected;
        shuffled_order(expected, n, 5, uint64_t(s / steps));
        const uint32_t* rows = order.batch(s);
        for (int64_t i = 0; i < batch; ++i) {
            INFO("step " << s << " row " << i);
            REQUIRE(rows[i] == expected[size_t((s % steps) * batch + i)]);
        }
    }
}

TEST_CASE("epoch_order: a fresh order asked for a mid-run step gives the same rows (resume needs no history)",
          "[epoch_order]") {
    EpochOrder walked(200, 16, 12, 3, true);
    for (int64_t s = 0; s < 30; ++s) walked.batch(s);
    const std::vector<uint32_t> a(walked.batch(30), walked.batch(30) + 16);
    EpochOrder fresh(200, 16, 12, 3, true);
    const std::vector<uint32_t> b(fresh.batch(30), fresh.batch(30) + 16);
    CHECK(a == b);
}

TEST_CASE("epoch_order: each epoch is a new order and a permutation with the remainder dropped", "[epoch_order]") {
    const size_t n = 50;
    EpochOrder order(n, 8, 6, 11, true);  // 48 of 50 rows per epoch
    std::vector<std::vector<uint32_t>> epochs(2);
    for (int64_t s = 0; s < 12; ++s) {
        const uint32_t* rows = order.batch(s);
        epochs[size_t(s / 6)].insert(epochs[size_t(s / 6)].end(), rows, rows + 8);
    }
    for (const auto& e : epochs) {
        const std::set<uint32_t> distinct(e.begin(), e.end());
        CHECK(distinct.size() == 48);
        CHECK(*distinct.rbegin() < n);
    }
    CHECK(epochs[0] != epochs[1]);
}

TEST_CASE("epoch_order: without shuffling every epoch takes the rows in file order", "[epoch_order]") {
    EpochOrder order(40, 4, 10, 1, false);
    for (int64_t s : {0, 3, 9, 10, 17}) {
        const uint32_t* rows = order.batch(s);
        for (int i = 0; i < 4; ++i) CHECK(rows[i] == uint32_t((s % 10) * 4 + i));
    }
}
