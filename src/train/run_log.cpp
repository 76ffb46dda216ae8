// The run log (see run_log.hpp).
#include "src/train/run_log.hpp"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "src/clock.hpp"
#include "src/numerics/kernel_path.hpp"
#include "src/train/metrics.hpp"

namespace mnist {
namespace {

// Set during static initialisation, before main: the start of the program, for "time to first step".
const auto kProgramStart = std::chrono::steady_clock::now();

double since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// The 1-based number of the epoch that the step which made st belongs to.
int64_t epoch_of_last_step(const TrainingState& st) { return (st.global_step - 1) / st.steps_per_epoch + 1; }

}  // namespace

RunLog::RunLog(const TrainConfig& c, const TrainReporting& report)
    : ckpt_dir_(c.ckpt_dir),
      metrics_path_((std::filesystem::path(c.ckpt_dir) / kMetricsFile).string()),
      epochs_(c.epochs),
      batch_size_(c.batch_size),
      epoch_log_(spdlog::default_logger()->clone("")) {
    epoch_log_->set_level(spdlog::level::info);
    if (report.progress != ProgressMode::off)
        progress_.emplace(stdout, report.progress == ProgressMode::terminal, report.plain_interval);
}

RunLog::~RunLog() = default;

void RunLog::record(nlohmann::ordered_json r) {
    r["time"] = unix_now();
    try {
        append_metrics(metrics_path_, r);
    } catch (const MetricsError& e) {
        spdlog::warn("{}; training goes on", e.what());
    }
}

void RunLog::clear_progress() {
    if (progress_) progress_->clear();
}

void RunLog::begin(const TrainingState& st, const std::string& restored_file) {
    spdlog::info("product kernels: {} (best this CPU supports: {}; MNIST_KERNEL=avx512|avx2|plain forces one)",
                 kernel_path_name(kernel_path()), kernel_path_name(best_kernel_path()));
    int64_t dropped = 0;
    try {
        dropped = keep_metrics_until(metrics_path_, st.global_step);
    } catch (const MetricsError& e) {
        spdlog::warn("{}; training goes on", e.what());
        return;
    }
    if (dropped > 0)
        spdlog::info("dropped {} record(s) past global_step {} from {}", dropped, st.global_step, metrics_path_);
    if (!restored_file.empty())
        record({{"event", "resume"}, {"step", st.global_step},
                {"epoch", double(st.global_step) / double(st.steps_per_epoch)}, {"file", restored_file},
                {"dropped", dropped}});
    else
        record({{"event", "start"}, {"step", st.global_step}, {"epoch", 0}, {"dropped", dropped}});
}

void RunLog::step(const TrainingState& st, double seconds) {
    train_seconds_ += seconds;
    ++steps_this_epoch_;
    if (steps_logged_++ == 0) spdlog::info("first step done {:.3f} s after the program started", since(kProgramStart));
    if (!progress_) return;
    const int64_t done = st.steps_into_epoch(), per_epoch = st.steps_per_epoch;
    const double per_step = since(epoch_start_) / double(steps_this_epoch_);
    const double images = double(steps_this_epoch_ * batch_size_);
    progress_->update({epoch_of_last_step(st), epochs_, done, per_epoch, train_seconds_ > 0 ? images / train_seconds_ : 0.0,
                       st.epoch_mean_loss(), per_step * double(per_epoch - done),
                       per_step * double(epochs_ * per_epoch - st.global_step)},
                      since(kProgramStart));
}

void RunLog::team_move(const TeamTuner::Move& m, int64_t step) {
    clear_progress();
    spdlog::info("team: {} thread{} from global_step {} ({:.2f} ms a step on {}, {:.2f} ms on {}{})", m.to,
                 m.to == 1 ? "" : "s", step, 1e3 * m.from_seconds, m.from, 1e3 * m.to_seconds, m.to,
                 m.to < m.from ? "; another process is using the cores" : "");
}

void RunLog::save(const std::optional<SaveReport>& r, bool training_goes_on) {
    if (!r) return;
    clear_progress();
    if (!r->outcome.error.empty()) {
        if (training_goes_on)
            spdlog::warn("save failed ({} of {} allowed in a row), training goes on: {}", r->failed_in_a_row,
                         kMaxFailedSavesInARow, r->outcome.error);
        else
            spdlog::warn("the save of global_step {} failed: {}", r->step, r->outcome.error);
        return;
    }
    for (const std::string& w : r->outcome.warnings) spdlog::warn("{}", w);
    spdlog::info("saved {} ({}, {:.1f} ms of training time, durable after {:.1f} ms)",
                 (std::filesystem::path(ckpt_dir_) / r->outcome.file).string(), r->why, r->blocked_ms,
                 1e3 * r->outcome.seconds);
    record({{"event", "save"}, {"step", r->step}, {"epoch", r->epoch}, {"file", r->outcome.file},
            {"reason", r->why}, {"loss", r->loss}});
}

void RunLog::retrying_save(int64_t step, int attempt, int attempts, double wait) {
    clear_progress();
    spdlog::warn("saving global_step {} again in {:.1f} s (attempt {} of {})", step, wait, attempt, attempts);
}

void RunLog::epoch_end(const TrainingState& st, const EvalResult& validation, const EvalResult& test) {
    const double secs = since(epoch_start_);
    const double rate = train_seconds_ > 0 ? double(steps_this_epoch_ * batch_size_) / train_seconds_ : 0.0;
    clear_progress();
    epoch_log_->info("epoch {} global_step {} loss {:.4f} validation_accuracy {} test_accuracy {:.4f} "
                     "seconds {:.2f} images_per_s {:.0f}",
                     st.epoch(), st.global_step, st.epoch_mean_loss(),
                     validation.count ? fmt::format("{:.4f}", validation.accuracy) : std::string("n/a"),
                     test.accuracy, secs, rate);
    nlohmann::ordered_json r = {{"event", "epoch"}, {"step", st.global_step}, {"epoch", st.epoch()},
                                {"loss", st.epoch_mean_loss()}};
    r["validation_accuracy"] = validation.count ? nlohmann::ordered_json(validation.accuracy) : nullptr;
    r["test_accuracy"] = test.accuracy;
    r["seconds"] = secs;
    r["images_per_s"] = rate;
    record(r);
    epoch_start_ = Clock::now();
    train_seconds_ = 0;
    steps_this_epoch_ = 0;
}

void RunLog::stop(int signal, int64_t step) {
    clear_progress();
    spdlog::warn("signal {} received: saving at global_step {} and stopping", signal, step);
}

void RunLog::traffic(const std::vector<int64_t>& bytes_per_step) {
    if (bytes_per_step.size() < 2) return;
    std::string list;
    for (int64_t b : bytes_per_step) list += (list.empty() ? "" : ", ") + std::to_string(b);
    spdlog::info("data-parallel on {} processes: bytes sent per step by rank 0..{}: {}", bytes_per_step.size(),
                 bytes_per_step.size() - 1, list);
}

}  // namespace mnist
