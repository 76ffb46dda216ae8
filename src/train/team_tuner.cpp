// Team size from step times (see team_tuner.hpp).
#include "src/train/team_tuner.hpp"

#include <algorithm>
#include <stdexcept>

namespace mnist {
namespace {
double median(std::vector<double> v) {
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
}
}  // namespace

TeamTuner::TeamTuner(int max_threads, TeamTunerSettings settings)
    : s_(settings), max_(max_threads), home_(max_threads), best_(size_t(max_threads) + 1, 0.0) {
    if (max_threads < 1) throw std::invalid_argument("TeamTuner: max_threads must be at least 1");
}

void TeamTuner::start_probe(int team) {
    probe_ = team;
    probe_times_.clear();
    probe_skipped_ = 0;
    since_probe_ = 0;
    probed_once_ = true;
}

TeamTuner::Change TeamTuner::record(double seconds) {
    if (probe_) {
        if (probe_skipped_ < 2) {
            ++probe_skipped_;
            return Change::none;
        }
        probe_times_.push_back(seconds);
        if (int(probe_times_.size()) < s_.probe_steps - 2) return Change::none;
        const double here = median(home_times_), there = median(probe_times_);
        const int probed = probe_;
        probe_ = 0;
        const double margin = probed > home_ ? s_.margin_up : s_.margin;
        if (there >= here * (1.0 - margin)) return Change::team;  // back to the home team
        move_ = {home_, probed, here, there};
        ++moves_;
        home_ = probed;
        home_times_.clear();
        next_ = 0;
        return Change::home_moved;
    }
    if (int(home_times_.size()) < s_.window) home_times_.push_back(seconds);
    else home_times_[next_] = seconds;
    next_ = (next_ + 1) % size_t(s_.window);
    ++since_probe_;
    if (max_ == 1 || int(home_times_.size()) < s_.window) return Change::none;
    const double now = median(home_times_);
    double& best = best_[size_t(home_)];
    if (best == 0 || now < best) best = now;
    const bool slowed = now > s_.slowdown * best && since_probe_ >= s_.cooldown;
    if (!probed_once_ || (slowed && home_ > 1)) {
        start_probe(home_ - 1 >= 1 ? home_ - 1 : home_ + 1);
        return Change::team;
    }
    if (home_ < max_ && since_probe_ >= s_.period) {
        const bool down = home_ > 1 && probe_down_next_;
        probe_down_next_ = !probe_down_next_;
        start_probe(down ? home_ - 1 : home_ + 1);
        return Change::team;
    }
    return Change::none;
}

}  // namespace mnist
