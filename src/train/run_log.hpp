// What a training run tells the user and the curve file, and nothing else: metrics.jsonl records
// (start or resume, each epoch, each save), the per-epoch line, the live progress line, the first
// step's time, the team tuner's moves, saves and failed saves, a stop request. The trainer calls
// one method per event; the log keeps the epoch's clocks for the rates it prints.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "src/model/evaluate.hpp"
#include "src/model/training_state.hpp"
#include "src/train/progress.hpp"
#include "src/train/save_schedule.hpp"
#include "src/train/team_tuner.hpp"

namespace spdlog {
class logger;
}

namespace mnist {

// How a run reports besides its log lines: the live progress line (off, redrawn in place on a
// terminal, or plain lines at most every plain_interval seconds).
enum class ProgressMode { off, terminal, plain };
struct TrainReporting {
    ProgressMode progress = ProgressMode::off;
    double plain_interval = 5.0;
};

class RunLog {
public:
    // Logs through spdlog's default logger; the per-epoch line shows whatever its level (so
    // ./train --quiet keeps only it, warnings and errors). Appends to c.ckpt_dir/metrics.jsonl.
    RunLog(const TrainConfig& c, const TrainReporting& report);
    ~RunLog();

    // The run starts at st: drops the curve's records past st's step (written by a run that died
    // before saving them), then records a start, or a resume from `restored_file` when it is set.
    void begin(const TrainingState& st, const std::string& restored_file);
    // A step just made st, in `seconds`: the first step's time after the program started, the
    // progress line.
    void step(const TrainingState& st, double seconds);
    // The team tuner moved the home team at this step.
    void team_move(const TeamTuner::Move& m, int64_t step);
    // A save settled: a success is logged and recorded, a failure warned about (saying that training
    // goes on only when it does). Nothing for nullopt.
    void save(const std::optional<SaveReport>& report, bool training_goes_on = true);
    // The save that ends the run at `step` failed; attempt `attempt` of `attempts` follows in `wait` s.
    void retrying_save(int64_t step, int attempt, int attempts, double wait);
    // The epoch that st just finished, with its evaluations: the per-epoch line and its record.
    // The next epoch's clocks start here.
    void epoch_end(const TrainingState& st, const EvalResult& validation, const EvalResult& test);
    // The bytes each rank of a data-parallel run sent per step (by rank); nothing for one process.
    void traffic(const std::vector<int64_t>& bytes_per_step);
    // A stop signal arrived; the run saves and returns.
    void stop(int signal, int64_t step);

private:
    void record(nlohmann::ordered_json r);
    void clear_progress();

    std::string ckpt_dir_, metrics_path_;
    int64_t epochs_, batch_size_;
    std::shared_ptr<spdlog::logger> epoch_log_;
    std::optional<ProgressPrinter> progress_;
    using Clock = std::chrono::steady_clock;
    Clock::time_point epoch_start_ = Clock::now();
    double train_seconds_ = 0;     // in steps of this epoch (not evaluation, not saves)
    int64_t steps_this_epoch_ = 0; // by this process
    int64_t steps_logged_ = 0;     // by this process
};

}  // namespace mnist
