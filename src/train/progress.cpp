// The progress line (see progress.hpp).
#include "src/train/progress.hpp"

#include <cmath>

#include <fmt/format.h>

namespace mnist {

std::string format_duration(double seconds) {
    if (!std::isfinite(seconds) || seconds < 0) return "?";
    const int64_t s = int64_t(std::llround(seconds));
    if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
    return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string format_progress(const Progress& p) {
    return fmt::format("epoch {}/{} step {}/{} {:.0f} images/s loss {:.4f} left {} (run {})", p.epoch, p.epochs,
                       p.step, p.steps_per_epoch, p.images_per_s, p.running_loss,
                       format_duration(p.epoch_seconds_left), format_duration(p.run_seconds_left));
}

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal, double plain_interval)
    : out_(out), terminal_(terminal), interval_(terminal ? 0.1 : plain_interval) {}

void ProgressPrinter::update(const Progress& p, double now) {
    if (now - last_ < interval_) return;
    last_ = now;
    const std::string line = format_progress(p);
    if (terminal_) std::fprintf(out_, "\r%s\x1b[K", line.c_str());
    else std::fprintf(out_, "%s\n", line.c_str());
    std::fflush(out_);
    shown_ = true;
}

void ProgressPrinter::clear() {
    if (terminal_ && shown_) {
        std::fputs("\r\x1b[K", out_);
        std::fflush(out_);
    }
    shown_ = false;
}

}  // namespace mnist
