// The progress line: its text, and a printer that on a non-terminal writes plain, rate-limited
// lines without control characters.
#include <catch2/catch.hpp>

#include <cstdio>
#include <string>

#include "src/train/progress.hpp"

using namespace mnist;

namespace {

std::string printed(std::FILE* f) {
    std::fflush(f);
    std::rewind(f);
    std::string s;
    for (int ch; (ch = std::fgetc(f)) != EOF;) s += char(ch);
    return s;
}

Progress sample() {
    Progress p;
    p.epoch = 3;
    p.epochs = 50;
    p.step = 120;
    p.steps_per_epoch = 429;
    p.images_per_s = 17467.4;
    p.running_loss = 0.23456;
    p.epoch_seconds_left = 12.4;
    p.run_seconds_left = 3723;
    return p;
}

}  // namespace

TEST_CASE("progress: the line names epoch, step, speed, loss and both times left", "[progress]") {
    CHECK(format_progress(sample()) == "epoch 3/50 step 120/429 17467 images/s loss 0.2346 left 0:12 (run 1:02:03)");
    CHECK(format_duration(59.6) == "1:00");
    CHECK(format_duration(-1) == "?");
}

TEST_CASE("progress: off a terminal, plain lines without control characters at most one per interval", "[progress]") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    ProgressPrinter printer(f, false, 5.0);
    for (double t : {0.0, 1.0, 2.0, 4.9, 5.0, 7.0, 9.9, 10.0, 12.0}) printer.update(sample(), 100 + t);
    printer.clear();
    const std::string out = printed(f);
    std::fclose(f);
    size_t lines = 0;
    for (char ch : out) {
        if (ch == '\n') ++lines;
        else CHECK(static_cast<unsigned char>(ch) >= 0x20);
    }
    CHECK(lines == 3);  // at 0, 5 and 10 seconds
}

TEST_CASE("progress: on a terminal the line is redrawn in place and erased before a log line", "[progress]") {
    std::FILE* f = std::tmpfile();
    REQUIRE(f != nullptr);
    ProgressPrinter printer(f, true);
    printer.update(sample(), 0);
    printer.update(sample(), 0.01);  // too soon: not drawn
    printer.clear();
    const std::string out = printed(f);
    std::fclose(f);
    CHECK(out == "\r" + format_progress(sample()) + "\x1b[K\r\x1b[K");
}
