// When the trainer saves, and what became of each save. Saves run on a BackgroundSaver (training
// goes on while the disk syncs); a save's outcome is settled (waited for and reported) before the
// next one starts, at each epoch end and when training ends. A failed save is retried at the next
// save point; kMaxFailedSavesInARow failures in a row end the run. The save that ends a run is
// retried at once (FinalSaveRetries) and must land, or the run ends with SaveError.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "src/checkpoint/background_saver.hpp"

namespace mnist {

constexpr int kMaxFailedSavesInARow = 3;

// How the save that ends a run is retried before the run gives up: `attempts` in all (the first
// included), waiting first_wait seconds before the second, twice as long before each next one
// (space is often freed by someone else meanwhile).
struct FinalSaveRetries {
    int attempts = 4;
    double first_wait = 0.5;
};

// The message of a run that reached `step` but could not save it (`why`): the newest valid
// checkpoint on disk in dir (or "no checkpoint was saved") and what to do.
std::string unsaved_message(const std::string& dir, int64_t step, const std::string& why);

// One settled save, for the run log.
struct SaveReport {
    std::string why;            // "end of epoch", "periodic", "stop requested"
    int64_t step = 0;           // the global_step saved
    double epoch = 0;           // step / steps_per_epoch: where the save falls on the curve
    double loss = 0;            // mean batch loss of the epoch so far, when the save started
    double blocked_ms = 0;      // training time the save took (encoding the state)
    BackgroundSaver::Outcome outcome;  // the file written, or why it failed; when it was durable
    int failed_in_a_row = 0;    // failed saves in a row, this one included (0 after a success)
};

class SaveSchedule {
public:
    using Clock = std::chrono::steady_clock;
    // Saves into `saver` at the periods of c (save_every_steps, save_every_secs).
    SaveSchedule(Saver& saver, const TrainConfig& c);

    // True when a periodic save is due after the step that made st (not counting epoch ends).
    bool due(const TrainingState& st, Clock::time_point now = Clock::now()) const;

    // Settles the save in flight, if any, and starts saving st as it is now. Returns the settled
    // save's report (nullopt when none was in flight).
    // throws SaveError when the settled save was the kMaxFailedSavesInARow-th failure in a row.
    std::optional<SaveReport> start(const TrainingState& st, const char* why);

    // Waits for the save in flight and returns its report; nullopt when none was started since.
    // throws SaveError as start().
    std::optional<SaveReport> settle();
    // The same without the limit: for the save that ends the run, which is retried instead.
    std::optional<SaveReport> settle_last();
    // Saves st now and waits for it (a retry of the save that ends the run).
    std::optional<SaveReport> save_now(const TrainingState& st, const char* why);

    // The file of the last save that landed ("" when none did in this run), its step (-1: none),
    // and the error of the last save that failed.
    const std::string& last_checkpoint() const { return last_checkpoint_; }
    int64_t last_saved_step() const { return last_saved_step_; }
    const std::string& last_error() const { return last_error_; }
    const std::string& dir() const { return dir_; }

private:
    std::string dir_;
    int64_t every_steps_;
    double every_secs_;
    BackgroundSaver background_;
    std::optional<SaveReport> pending_;  // what was known when the save in flight started
    int failed_in_a_row_ = 0;
    Clock::time_point last_start_;
    std::string last_checkpoint_;
    int64_t last_saved_step_ = -1;
    std::string last_error_;
    std::optional<SaveReport> settle_counting();
};

}  // namespace mnist
