// The processes of a run: how a batch is cut among ranks and the one-process
// world (MPI runs themselves are tested by tests/e2e/mpi_test.sh under mpirun).
#include <catch2/catch.hpp>

#include "src/comm/comm.hpp"
#include "src/train/ranks.hpp"
#include "tests/unit/fixture.hpp"

using namespace mnist;

TEST_CASE("ranks: a batch is cut into consecutive row ranges, one per rank, sizes differing by at most one", "[ranks]") {
    for (int64_t batch : {1, 7, 128})
        for (int ranks = 1; ranks <= batch && ranks <= 9; ++ranks) {
            int64_t next = 0, smallest = batch, largest = 0;
            for (int r = 0; r < ranks; ++r) {
                const RowRange rows = rows_of_rank(r, ranks, batch);
                CHECK(rows.begin == next);
                smallest = std::min(smallest, rows.end - rows.begin);
                largest = std::max(largest, rows.end - rows.begin);
                next = rows.end;
            }
            INFO("batch " << batch << ", " << ranks << " ranks");
            CHECK(next == batch);
            CHECK(smallest >= 1);
            CHECK(largest - smallest <= 1);
        }
}

TEST_CASE("ranks: one process alone agrees with itself, shares nothing and refuses point-to-point messages", "[ranks]") {
    SingleProcess alone;
    CHECK(alone.rank() == 0);
    CHECK(alone.size() == 1);
    CHECK(alone.max(5) == 5);
    CHECK(alone.gather_all(3) == std::vector<int64_t>{3});
    float x = 1;
    CHECK_THROWS_AS(alone.send(0, &x, 4), std::logic_error);
    CHECK_THROWS_AS(alone.receive(0, &x, 4), std::logic_error);
    const TrainConfig c = testutil::small_config("unused", "unused");
    Mnist data;
    CHECK_NOTHROW(check_ranks_agree(alone, c, data));
}
