// The live progress line of a training run: pure formatting (testable) and a printer that, on a
// terminal, redraws one line in place, and elsewhere (a log file, CI) writes plain lines, no
// control characters, at most one per interval.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace mnist {

struct Progress {
    int64_t epoch = 0, epochs = 0;                 // 1-based epoch being trained, of epochs
    int64_t step = 0, steps_per_epoch = 0;         // steps done in this epoch, of steps_per_epoch
    double images_per_s = 0;
    double running_loss = 0;                       // mean batch loss of the epoch so far
    double epoch_seconds_left = 0, run_seconds_left = 0;
};

// "1:02:03", "4:05" (minutes:seconds below an hour); "?" for a negative or non-finite value.
std::string format_duration(double seconds);

// "epoch 3/50 step 120/429 17467 images/s loss 0.2345 left 0:12 (run 10:23)"
std::string format_progress(const Progress& p);

class ProgressPrinter {
public:
    // terminal: redraw in place (carriage return, erase to end of line) at most every 0.1 s;
    // otherwise one plain line at most every `plain_interval` seconds.
    ProgressPrinter(std::FILE* out, bool terminal, double plain_interval = 5.0);
    // Shows p if the last line is old enough; `now` is any monotonic clock in seconds.
    void update(const Progress& p, double now);
    // On a terminal, erases the live line so that a log line can follow; otherwise nothing.
    void clear();

private:
    std::FILE* out_;
    bool terminal_;
    double interval_;
    double last_ = -1e300;
    bool shown_ = false;
};

}  // namespace mnist
