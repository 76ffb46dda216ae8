// The size of the OpenMP team for training on cores that other processes may share. A busy
// neighbour on one core slows every barrier of a step (a thread waits for the one that shares its
// core), so fewer threads can be faster than all of them. No result depends on the team size, so
// the trainer may change it at any step: this class watches step times and says when.
//
// Rules (all on the times of steps, medians of windows):
// - home: the team in use, its last `window` steps;
// - a probe runs `probe_steps` steps (the first two not counted: the team is resizing) on one
//   thread fewer, or one more below the full team, and the team moves there if those steps were
//   faster by at least `margin` (fewer threads) or `margin_up` (more: the full team is the
//   default, fewer must earn it: one thread on idle cores is only a little slower than two);
// - probes: once when the first window is full (a neighbour present from the start), when the home
//   median grows past `slowdown` times the best median seen on this team (a neighbour arrived; at
//   most every `cooldown` steps), and every `period` steps while below the full team (it left?).
// On idle cores the full team stays after its first probe and no other probe runs.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnist {

struct TeamTunerSettings {
    int window = 20;
    int probe_steps = 10;
    double margin = 0.15;
    double margin_up = 0.03;
    double slowdown = 1.3;
    int64_t cooldown = 500;
    int64_t period = 1000;
};

class TeamTuner {
public:
    // requires: max_threads >= 1 (with 1 it never probes).
    explicit TeamTuner(int max_threads, TeamTunerSettings settings = {});

    int threads() const { return probe_ ? probe_ : home_; }  // for the next step

    // The time of the step just run on threads() threads. Says what changed: threads() (a probe
    // starts or ends), or the home team, moved to the probed one, whose size threads() already was
    // (last_move() tells how).
    enum class Change { none, team, home_moved };
    Change record(double seconds);

    // Of the last decision that moved the home team: the medians (seconds per step) before and after.
    struct Move {
        int from = 0, to = 0;
        double from_seconds = 0, to_seconds = 0;
    };
    const Move& last_move() const { return move_; }
    int64_t moves() const { return moves_; }

private:
    void start_probe(int team);
    TeamTunerSettings s_;
    int max_, home_, probe_ = 0;
    bool probe_down_next_ = true;       // below the full team and above one: alternate directions
    bool probed_once_ = false;
    int64_t since_probe_ = 0;
    std::vector<double> home_times_;    // the last `window` steps on the home team (ring)
    size_t next_ = 0;
    std::vector<double> probe_times_;
    int probe_skipped_ = 0;
    std::vector<double> best_;          // best home median seen, per team size (0: none yet)
    Move move_;
    int64_t moves_ = 0;
};

}  // namespace mnist
