// The save schedule (see save_schedule.hpp).
#include "src/train/save_schedule.hpp"

#include "src/clock.hpp"

namespace mnist {

SaveSchedule::SaveSchedule(Saver& saver, const TrainConfig& c)
    : dir_(saver.dir()), every_steps_(c.save_every_steps), every_secs_(c.save_every_secs), background_(saver),
      last_start_(Clock::now()) {}

bool SaveSchedule::due(const TrainingState& st, Clock::time_point now) const {
    if (every_steps_ > 0 && st.global_step % every_steps_ == 0) return true;
    return every_secs_ > 0 && std::chrono::duration<double>(now - last_start_).count() >= every_secs_;
}

std::optional<SaveReport> SaveSchedule::start(const TrainingState& st, const char* why) {
    std::optional<SaveReport> settled = settle();
    const auto t = Clock::now();
    background_.start(st, unix_now());
    pending_ = SaveReport{why,
                          st.global_step,
                          double(st.global_step) / double(st.steps_per_epoch),
                          st.epoch_mean_loss(),
                          1e3 * std::chrono::duration<double>(Clock::now() - t).count(),
                          {},
                          0};
    last_start_ = Clock::now();
    return settled;
}

std::optional<SaveReport> SaveSchedule::settle() {
    const std::optional<BackgroundSaver::Outcome> outcome = background_.wait();
    if (!outcome) return std::nullopt;
    SaveReport report = *pending_;  // set whenever a save was started
    pending_.reset();
    report.outcome = *outcome;
    if (outcome->error.empty()) {
        failed_in_a_row_ = 0;
        last_checkpoint_ = outcome->file;
    } else if (++failed_in_a_row_ >= kMaxFailedSavesInARow) {
        throw CheckpointError(outcome->error + "\n" + std::to_string(failed_in_a_row_) +
                              " saves failed in a row; stopping. The checkpoints already in '" + dir_ +
                              "' are intact: free space and rerun the same command to resume.");
    }
    report.failed_in_a_row = failed_in_a_row_;
    return report;
}

}  // namespace mnist
