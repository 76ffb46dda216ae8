// ./train: parses options, loads MNIST, runs the trainer, reports. Rerunning the same command
// resumes from the newest checkpoint in --ckpt_dir. SIGINT/SIGTERM: finish the step, save, exit
// 128+signal; a second signal exits at once.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <cxxopts.hpp>
#include <spdlog/spdlog.h>

#include "data_loader/idx.hpp"
#include "src/cli/options.hpp"
#include "src/text.hpp"
#include "src/train/trainer.hpp"

namespace {

std::atomic<int> g_stop{0};

extern "C" void on_stop_signal(int sig) {
    if (g_stop.exchange(sig) != 0) _exit(128 + sig);  // second signal: stop at once
}

void install_stop_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
    // Past a file-size limit, write() should fail with EFBIG (a failed save, retried later), not kill us.
    signal(SIGXFSZ, SIG_IGN);
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mnist;
    std::string stage = "parsing the options";  // named when memory runs out
    try {
        const auto parsed = parse_train_options(argc, argv);
        if (parsed.exit_now) return parsed.exit_code;
        const TrainConfig& c = parsed.config;  // validated by the parser
        const char* fault_env = std::getenv("MNIST_FAULT");
        const FaultPoint fault = fault_point_from_string(fault_env ? fault_env : "");
        install_stop_handlers();
        if (parsed.quiet) spdlog::set_level(spdlog::level::warn);
        TrainReporting report;
        report.progress = parsed.quiet || parsed.progress == "off" ? ProgressMode::off
                          : parsed.progress == "auto" && isatty(STDOUT_FILENO) ? ProgressMode::terminal
                                                                                : ProgressMode::plain;
        stage = "loading the data from '" + c.data_dir + "'";
        const Mnist data = load_mnist(c.data_dir, size_t(c.validation_size));
        spdlog::info("data '{}': {} training, {} validation, {} test images", c.data_dir, data.train.size(),
                     data.validation.size(), data.test.size());
        stage = "training a " + widths_text(c.hidden) + " network (its weights, slots and activations)";
        const TrainOutcome out = train(c, data, g_stop, fault, report);
        if (out.stopped_by_signal) {
            spdlog::info("stopped by signal {} at global_step {}; rerun the same command to resume",
                         out.stopped_by_signal, out.global_step);
            return 128 + out.stopped_by_signal;
        }
        spdlog::info("done: global_step {}", out.global_step);
        return 0;
    } catch (const std::bad_alloc&) {
        spdlog::error("out of memory while {}", stage);
        return 1;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
