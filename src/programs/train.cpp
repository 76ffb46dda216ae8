// ./train: parses options, loads MNIST, runs the trainer, reports. Rerunning the same command
// resumes from the newest checkpoint in --ckpt_dir. SIGINT/SIGTERM: finish the step, save, exit
// 128+signal; a second signal exits at once. Exit 75 (kExitUnsaved) when the state reached could
// not be saved; 1 for any other error. Under mpirun (MPI builds) every rank runs this program:
// the ranks train data-parallel, rank 0 saves and logs (trainer.hpp, ranks.hpp).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <cstdlib>
#include <new>
#include <string>
#include <cxxopts.hpp>
#include <spdlog/spdlog.h>

#include "data_loader/idx.hpp"
#include "src/cli/options.hpp"
#include "src/comm/world.hpp"
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
    std::unique_ptr<Comm> world;
    std::string stage = "parsing the options";  // named when memory runs out
    try {
        world = join_world(argc, argv);  // several processes under mpirun, else one
        const auto parsed = parse_train_options(argc, argv);
        if (parsed.exit_now) return world->rank() == 0 ? parsed.exit_code : 0;
        const TrainConfig& c = parsed.config;  // validated by the parser
        const char* fault_env = std::getenv("MNIST_FAULT");
        const FaultPoint fault = fault_point_from_string(fault_env ? fault_env : "");
        install_stop_handlers();
        if (parsed.quiet || world->rank() != 0) spdlog::set_level(spdlog::level::warn);
        TrainReporting report;
        report.progress = parsed.quiet || parsed.progress == "off" ? ProgressMode::off
                          : parsed.progress == "auto" && isatty(STDOUT_FILENO) ? ProgressMode::terminal
                                                                                : ProgressMode::plain;
        stage = "loading the data from '" + c.data_dir + "'";
        const Mnist data = load_mnist(c.data_dir, size_t(c.validation_size));
        spdlog::info("data '{}': {} training, {} validation, {} test images", c.data_dir, data.train.size(),
                     data.validation.size(), data.test.size());
        stage = "training a " + widths_text(c.hidden) + " network (its weights, slots and activations)";
        if (world->size() > 1)
            spdlog::info("data-parallel on {} processes: rank 0 saves and logs; every tensor as one process computes it",
                         world->size());
        const TrainOutcome out = train(c, data, g_stop, fault, report, {}, world.get());
        if (out.stopped_by_signal) {
            spdlog::info("stopped by signal {} at global_step {}; rerun the same command to resume",
                         out.stopped_by_signal, out.global_step);
            return 128 + out.stopped_by_signal;
        }
        spdlog::info("done: global_step {}", out.global_step);
        return 0;
    } catch (const std::bad_alloc&) {
        spdlog::error("out of memory while {}", stage);
        if (world && world->size() > 1) abort_world(*world, 1);
        return 1;
    } catch (const SaveError& e) {  // the state reached is not on disk: not bad input
        spdlog::error("{}", e.what());
        if (world && world->size() > 1) abort_world(*world, kExitUnsaved);  // no rank may wait for rank 0
        return kExitUnsaved;
    } catch (const RanksDisagree& e) {  // every rank knows, and stops by itself: rank 0 says why
        if (world->rank() == 0) spdlog::error("{}", e.what());
        return 1;
    } catch (const std::exception& e) {
        if (world && world->size() > 1) {
            spdlog::error("rank {} of {}: {}", world->rank(), world->size(), e.what());
            abort_world(*world, 1);  // the other ranks may be waiting for this one
        } else {
            spdlog::error("{}", e.what());
        }
        return 1;
    }
}
