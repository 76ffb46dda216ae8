// The save schedule (see save_schedule.hpp).
#include "src/train/save_schedule.hpp"

#include "src/clock.hpp"
#include "src/checkpoint/latest_checkpoint.hpp"

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

std::optional<SaveReport> SaveSchedule::settle_counting() {
    const std::optional<BackgroundSaver::Outcome> outcome = background_.wait();
    if (!outcome) return std::nullopt;
    SaveReport report = *pending_;  // set whenever a save was started
    pending_.reset();
    report.outcome = *outcome;
    if (outcome->error.empty()) {
        failed_in_a_row_ = 0;
        last_checkpoint_ = outcome->file;
        last_saved_step_ = report.step;
    } else {
        ++failed_in_a_row_;
        last_error_ = outcome->error;
    }
    report.failed_in_a_row = failed_in_a_row_;
    return report;
}

std::optional<SaveReport> SaveSchedule::settle() {
    std::optional<SaveReport> report = settle_counting();
    if (report && failed_in_a_row_ >= kMaxFailedSavesInARow)
        throw SaveError(std::to_string(failed_in_a_row_) + " saves failed in a row; stopping (the checkpoints already in '" + dir_ +
                        "' are intact). " +
                        unsaved_message(dir_, report->step, report->outcome.error));
    return report;
}

std::optional<SaveReport> SaveSchedule::settle_last() { return settle_counting(); }

std::optional<SaveReport> SaveSchedule::save_now(const TrainingState& st, const char* why) {
    start(st, why);
    return settle_last();
}

std::string unsaved_message(const std::string& dir, int64_t step, const std::string& why) {
    std::string newest;
    try {
        const LatestSearch found = find_latest_checkpoint(dir, 1);
        if (found.latest)
            newest = "The newest checkpoint on disk is '" + found.latest->path + "' (global_step " +
                     std::to_string(found.latest->state.global_step) + "); free space (or fix the disk) and rerun "
                     "the same command to resume from it.";
    } catch (const CheckpointError&) {
    }
    if (newest.empty())
        newest = "No checkpoint was saved in '" + dir + "'; free space (or fix the disk) and rerun the same command "
                 "to start again.";
    return "The run reached global_step " + std::to_string(step) + " but could not save it (" + why + "). " + newest;
}

}  // namespace mnist
