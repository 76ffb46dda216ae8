// The team size for shared cores, driven by made-up step times.
#include <catch2/catch.hpp>

#include <functional>

#include "src/train/team_tuner.hpp"

using namespace mnist;

namespace {
// Runs `steps` steps whose time depends on the team (seconds_on(threads)); returns how many steps
// ran on each team size (index = threads). Checks what record() says against what changed.
std::vector<int64_t> run(TeamTuner& tuner, int64_t steps, const std::function<double(int)>& seconds_on) {
    std::vector<int64_t> on(9, 0);
    for (int64_t i = 0; i < steps; ++i) {
        const int t = tuner.threads();
        const int64_t moves = tuner.moves();
        ++on[size_t(t)];
        const TeamTuner::Change change = tuner.record(seconds_on(t));
        REQUIRE((change == TeamTuner::Change::team) == (tuner.threads() != t));
        REQUIRE((change == TeamTuner::Change::home_moved) == (tuner.moves() == moves + 1));
    }
    return on;
}
// Idle cores: two threads 3 ms a step, one thread 5.5 ms. A neighbour on one core: two threads 10 ms.
double idle(int threads) { return threads == 2 ? 0.003 : 0.0055; }
double shared(int threads) { return threads == 2 ? 0.010 : 0.0055; }
}  // namespace

TEST_CASE("team tuner: on idle cores the full team stays after one short probe", "[team_tuner]") {
    TeamTuner tuner(2);
    const std::vector<int64_t> on = run(tuner, 20000, idle);
    CHECK(tuner.threads() == 2);
    CHECK(tuner.moves() == 0);
    CHECK(on[1] == 10);  // the first probe, and no other
}

TEST_CASE("team tuner: with a neighbour on one core from the start it moves to the faster team", "[team_tuner]") {
    TeamTuner tuner(2);
    const std::vector<int64_t> on = run(tuner, 100, shared);
    CHECK(tuner.threads() == 1);
    REQUIRE(tuner.moves() == 1);
    CHECK(tuner.last_move().from == 2);
    CHECK(tuner.last_move().to == 1);
    CHECK(tuner.last_move().from_seconds == Approx(0.010));
    CHECK(tuner.last_move().to_seconds == Approx(0.0055));
    CHECK(on[2] == 20);  // the first window only
    // Still shared: probes of the full team every `period` steps find it slower and come back.
    run(tuner, 5000, shared);
    CHECK(tuner.threads() == 1);
    CHECK(tuner.moves() == 1);
}

TEST_CASE("team tuner: a neighbour arriving mid-run moves the team down, leaving moves it back up", "[team_tuner]") {
    TeamTuner tuner(2);
    run(tuner, 3000, idle);
    REQUIRE(tuner.threads() == 2);
    // The slowdown is seen once a window's median passes 1.3x the best, probed within the cooldown.
    run(tuner, 600, shared);
    CHECK(tuner.threads() == 1);
    CHECK(tuner.moves() == 1);
    // Back to idle: within a period of steps a probe of two threads finds them faster.
    run(tuner, 1100, idle);
    CHECK(tuner.threads() == 2);
    CHECK(tuner.moves() == 2);
    CHECK(tuner.last_move().to == 2);
}

TEST_CASE("team tuner: a difference within the margin does not move the team", "[team_tuner]") {
    TeamTuner tuner(2);
    run(tuner, 5000, [](int threads) { return threads == 2 ? 0.0050 : 0.0045; });  // one thread 10% faster
    CHECK(tuner.threads() == 2);
    CHECK(tuner.moves() == 0);
}

TEST_CASE("team tuner: more threads need a smaller gain to come back than fewer need to go", "[team_tuner]") {
    TeamTuner tuner(2);
    run(tuner, 100, shared);
    REQUIRE(tuner.threads() == 1);
    // The neighbour leaves, and one thread is only 10% slower than two: within the 15% that moving
    // down takes, past the 3% that moving back up takes.
    run(tuner, 1100, [](int threads) { return threads == 2 ? 0.0030 : 0.0033; });
    CHECK(tuner.threads() == 2);
    CHECK(tuner.moves() == 2);
}

TEST_CASE("team tuner: on four cores it steps down one thread at a time while that is faster", "[team_tuner]") {
    TeamTuner tuner(4);
    // Two busy neighbours: four threads 12 ms, three 9 ms, two 4 ms, one 7 ms.
    const auto two_neighbours = [](int threads) {
        const double t[] = {0, 0.007, 0.004, 0.009, 0.012};
        return t[threads];
    };
    run(tuner, 200, two_neighbours);
    CHECK(tuner.threads() == 3);  // the first probe found three faster
    // Slower than the best seen on three? No: three's best is its own time, so only the period's
    // probes (alternating down and up) look further.
    run(tuner, 3000, two_neighbours);
    CHECK(tuner.threads() == 2);
    run(tuner, 5000, two_neighbours);
    CHECK(tuner.threads() == 2);  // neither one nor three beats two
}

TEST_CASE("team tuner: one core never probes", "[team_tuner]") {
    TeamTuner tuner(1);
    const std::vector<int64_t> on = run(tuner, 5000, [](int) { return 0.01; });
    CHECK(on[1] == 5000);
    CHECK(tuner.moves() == 0);
    CHECK_THROWS_AS(TeamTuner(0), std::invalid_argument);
}
