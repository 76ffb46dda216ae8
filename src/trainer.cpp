// The training loop (see trainer.hpp).
#include "src/trainer.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <numeric>
#include <optional>

#include <omp.h>

#include "src/evaluate.hpp"
#include "src/gemm.hpp"
#include "src/metrics.hpp"
#include "src/progress.hpp"
#include "src/rng.hpp"
#include "src/team_tuner.hpp"
#include "src/transfer.hpp"

namespace mnist {
namespace {

// Set during static initialisation, before main: the start of the program, for "time to first step".
const auto kProgramStart = std::chrono::steady_clock::now();

double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string join(const std::vector<std::string>& lines, const char* sep) {
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) out += (i ? sep : "") + lines[i];
    return out;
}

RmsPropConfig optimizer_config(const TrainConfig& c) {
    return {float(c.learning_rate), float(c.decay), float(c.momentum), float(c.epsilon)};
}

// A new run: weights from N(0, 0.01^2) drawn from the seed, RMSProp slots at their initial values.
TrainingState fresh_state(const TrainConfig& c, int input_size, int64_t steps_per_epoch) {
    std::vector<int> sizes = {input_size};
    sizes.insert(sizes.end(), c.hidden.begin(), c.hidden.end());
    sizes.push_back(10);
    TrainingState st;
    st.config = c;
    st.net = init_mlp(sizes, c.seed);
    st.opt = make_rmsprop(st.net, optimizer_config(c));
    st.steps_per_epoch = steps_per_epoch;
    return st;
}

// Continues `saved` under the requested configuration, refusing what would change shapes or data order.
TrainingState resumed_state(TrainingState saved, const std::string& file, const TrainConfig& c, int input_size,
                            int64_t steps_per_epoch) {
    std::vector<std::string> bad = incompatible_settings(saved.config, c);
    if (saved.net.sizes.front() != input_size)
        bad.push_back("input size: checkpoint has " + std::to_string(saved.net.sizes.front()) + ", data has " +
                      std::to_string(input_size));
    if (saved.steps_per_epoch != steps_per_epoch)
        bad.push_back("steps per epoch: checkpoint has " + std::to_string(saved.steps_per_epoch) +
                      ", this data and batch size give " + std::to_string(steps_per_epoch));
    if (!bad.empty())
        throw ConfigError("cannot resume from '" + file + "': these settings differ from the run that wrote it:\n  " +
                          join(bad, "\n  ") + "\nuse the original settings, or another --ckpt_dir for a new run");
    for (const std::string& line : changed_settings(saved.config, c))
        spdlog::warn("resuming with a changed setting ({}); the run will differ from one never stopped", line);
    // How the run started stays recorded, whatever --init_from the rerun names (it is ignored).
    const TrainConfig started = saved.config;
    saved.config = c;
    saved.config.init_from = started.init_from;
    saved.config.init_map = started.init_map;
    saved.config.init_optimizer = started.init_optimizer;
    saved.opt.config = optimizer_config(c);
    if (saved.global_step % steps_per_epoch == 0) saved.epoch_loss_sum = 0;
    return saved;
}

}  // namespace

TrainingState new_run_state(const TrainConfig& c, int input_size, int64_t steps_per_epoch) {
    TrainingState st = fresh_state(c, input_size, steps_per_epoch);
    if (c.init_from.empty()) return st;
    const TensorFile from = read_transfer_source(c.init_from);
    const VarMap map = c.init_map.empty() ? common_weights(st.net, from) : parse_var_map(c.init_map, "init_map");
    if (map.empty())
        throw CheckpointError("cannot initialise the new model from '" + c.init_from + "': it holds none of the new "
                              "model's weight names; choose them with --init_map TARGET=SOURCE,...");
    warm_start(st, from, map, c.init_optimizer, c.init_from);
    std::vector<std::string> pairs, rest;
    for (const VarMapping& m : map) pairs.push_back(m.target + "=" + m.source);
    for (size_t l = 0; l < st.net.layers(); ++l) {
        const std::string name = weight_name(l, st.net.layers());
        if (std::none_of(map.begin(), map.end(), [&](const VarMapping& m) { return m.target == name; }))
            rest.push_back(name);
    }
    spdlog::info("warm start from '{}': {}{}; {} initialised from the seed", c.init_from, join(pairs, ", "),
                 c.init_optimizer ? " with their RMSProp slots" : "", rest.empty() ? "nothing else" : join(rest, ", "));
    return st;
}

double train_step(TrainingState& st, const Dataset& train, const uint32_t* indices, int batch, Workspace& ws,
                  std::vector<uint8_t>& labels) {
    gather_batch(train, indices, 0, size_t(batch), ws.input.data());
    for (int i = 0; i < batch; ++i) labels[i] = train.labels[indices[i]];
    const DropoutSpec dropout{float(st.config.keep_prob_input), float(st.config.keep_prob_hidden), st.config.seed,
                              uint64_t(st.global_step)};
    const double loss = forward_backward(st.net, ws, batch, labels.data(), dropout);
    rmsprop_step(st.opt, st.net, ws.grads);
    ++st.global_step;
    return loss;
}

TrainOutcome train(const TrainConfig& c, const Mnist& data, const std::atomic<int>& stop_signal, FaultPoint fault,
                   const TrainReporting& report) {
    validate(c);
    set_compute_threads(c.threads);
    const int64_t steps_per_epoch = int64_t(data.train.size()) / c.batch_size;
    if (steps_per_epoch == 0)
        throw ConfigError("--batch_size " + std::to_string(c.batch_size) + " is larger than the training set (" +
                          std::to_string(data.train.size()) + " images after the validation split)");
    const int input_size = int(data.train.image_size());
    const int64_t total_steps = c.epochs * steps_per_epoch;

    // A new run's state is built before the directory is touched, so a bad --init_from writes nothing.
    std::optional<TrainingState> new_run;
    if (list_checkpoint_files(c.ckpt_dir).empty()) new_run = new_run_state(c, input_size, steps_per_epoch);

    Saver saver(c.ckpt_dir, c.max_to_keep, c.keep_checkpoint_every_n_hours, fault);
    DirectoryLock lock(c.ckpt_dir);
    const auto restore_start = std::chrono::steady_clock::now();
    RestoreResult restored = saver.restore_latest();
    const double restore_ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - restore_start).count();
    for (const std::string& w : restored.warnings) spdlog::warn("{}", w);
    TrainingState st;
    if (restored.state) {
        st = resumed_state(std::move(*restored.state), restored.file, c, input_size, steps_per_epoch);
        spdlog::info("restored {} from '{}' in {:.1f} ms: global_step {}, epoch {}, step {} of {} in the epoch",
                     restored.file, c.ckpt_dir, restore_ms, st.global_step, st.epoch() + 1,
                     st.global_step % steps_per_epoch, steps_per_epoch);
        if (!c.init_from.empty())
            spdlog::info("--init_from '{}' ignored: '{}' already holds a checkpoint of this run", c.init_from,
                         c.ckpt_dir);
    } else {
        st = new_run ? std::move(*new_run) : new_run_state(c, input_size, steps_per_epoch);
        spdlog::info("new run in '{}': network {}, {} steps per epoch, {} epochs", c.ckpt_dir,
                     [&] { std::string s; for (int w : st.net.sizes) s += (s.empty() ? "" : "-") + std::to_string(w); return s; }(),
                     steps_per_epoch, c.epochs);
    }

    // The curve: records past the restored step came from a run that died before saving them.
    const std::string metrics_path = (std::filesystem::path(c.ckpt_dir) / kMetricsFile).string();
    auto record = [&](nlohmann::ordered_json j) {
        j["time"] = metrics_clock();
        try {
            append_metrics(metrics_path, j);
        } catch (const std::runtime_error& e) {
            spdlog::warn("{}; training goes on", e.what());
        }
    };
    try {
        const int64_t dropped = keep_metrics_until(metrics_path, st.global_step);
        if (dropped > 0)
            spdlog::info("dropped {} record(s) past global_step {} from {}", dropped, st.global_step, metrics_path);
        if (restored.state) record({{"event", "resume"}, {"step", st.global_step},
                                    {"epoch", double(st.global_step) / double(steps_per_epoch)},
                                    {"file", restored.file}, {"dropped", dropped}});
        else record({{"event", "start"}, {"step", st.global_step}, {"epoch", 0}, {"dropped", dropped}});
    } catch (const std::runtime_error& e) {
        spdlog::warn("{}; training goes on", e.what());
    }
    // The per-epoch line shows even when the default level hides info (./train --quiet).
    const auto epoch_log = spdlog::default_logger()->clone("");
    epoch_log->set_level(spdlog::level::info);
    std::optional<ProgressPrinter> progress;
    if (report.progress != ProgressMode::off)
        progress.emplace(stdout, report.progress == ProgressMode::terminal, report.plain_interval);

    TrainOutcome out;
    const int batch = int(c.batch_size);
    Workspace ws = make_workspace(st.net, batch);
    EvalWorkspace eval_ws = make_eval_workspace(st.net);
    // With --threads 0 the team follows the step times (team_tuner.hpp): fewer threads when another
    // process slows the steps down. No result depends on the team size.
    std::optional<TeamTuner> tuner;
    if (c.threads == 0) tuner.emplace(omp_get_max_threads());
    std::vector<uint8_t> labels(static_cast<size_t>(batch));
    std::vector<uint32_t> order;
    int64_t order_epoch = -1;
    int failed_saves = 0;
    using clock = std::chrono::steady_clock;
    auto last_save = clock::now();
    auto epoch_start = clock::now();
    double train_seconds = 0;
    int64_t images_this_epoch = 0;

    // Saves run on a background thread (BackgroundSaver): training goes on while the disk syncs.
    // A save's outcome is reported when the next save starts or training ends, whichever is first.
    BackgroundSaver background(saver);
    struct PendingSave {
        std::string why;
        int64_t step = 0;
        double loss = 0, blocked_ms = 0;
    };
    std::optional<PendingSave> pending;  // what the trainer knew when the save in flight started
    auto finish_save = [&] {
        const std::optional<BackgroundSaver::Outcome> o = background.wait();
        if (!o) return;
        const PendingSave p = *pending;  // set whenever a save was started
        if (progress) progress->clear();
        if (!o->error.empty()) {
            if (++failed_saves >= kMaxFailedSavesInARow)
                throw CheckpointError(o->error + "\n" + std::to_string(failed_saves) +
                                      " saves failed in a row; stopping. The checkpoints already in '" + c.ckpt_dir +
                                      "' are intact: free space and rerun the same command to resume.");
            spdlog::warn("save failed ({} of {} allowed in a row), training goes on: {}", failed_saves,
                         kMaxFailedSavesInARow, o->error);
            return;
        }
        failed_saves = 0;
        out.last_checkpoint = o->file;
        spdlog::info("saved {} ({}, {:.1f} ms of training time, durable after {:.1f} ms)",
                     (std::filesystem::path(c.ckpt_dir) / o->file).string(), p.why, p.blocked_ms, 1e3 * o->seconds);
        record({{"event", "save"}, {"step", p.step}, {"epoch", double(p.step) / double(st.steps_per_epoch)},
                {"file", o->file}, {"reason", p.why}, {"loss", p.loss}});
    };
    auto save = [&](const char* why) {
        finish_save();
        const auto t = clock::now();
        const int64_t in_epoch = st.global_step % st.steps_per_epoch;
        const int64_t done = in_epoch ? in_epoch : st.steps_per_epoch;
        background.start(st, unix_now());
        pending = PendingSave{why, st.global_step, st.epoch_loss_sum / double(done),
                              1e3 * std::chrono::duration<double>(clock::now() - t).count()};
        last_save = clock::now();
    };

    while (st.global_step < total_steps) {
        const int64_t epoch = st.global_step / steps_per_epoch;
        const int64_t b = st.global_step % steps_per_epoch;
        if (order_epoch != epoch) {
            if (c.shuffle) {
                shuffled_order(order, data.train.size(), c.seed, uint64_t(epoch));
            } else {
                order.resize(data.train.size());
                std::iota(order.begin(), order.end(), 0u);
            }
            order_epoch = epoch;
        }
        if (b == 0) st.epoch_loss_sum = 0;

        const auto t0 = clock::now();
        st.epoch_loss_sum += train_step(st, data.train, order.data() + b * batch, batch, ws, labels);
        const double step_seconds = std::chrono::duration<double>(clock::now() - t0).count();
        train_seconds += step_seconds;
        const TeamTuner::Change change = tuner ? tuner->record(step_seconds) : TeamTuner::Change::none;
        if (change == TeamTuner::Change::team) set_compute_threads(tuner->threads());
        if (change == TeamTuner::Change::home_moved) {
            const TeamTuner::Move& m = tuner->last_move();
            if (progress) progress->clear();
            spdlog::info("team: {} thread{} from global_step {} ({:.2f} ms a step on {}, {:.2f} ms on {}{})", m.to,
                         m.to == 1 ? "" : "s", st.global_step, 1e3 * m.from_seconds, m.from, 1e3 * m.to_seconds,
                         m.to, m.to < m.from ? "; another process is using the cores" : "");
        }
        if (images_this_epoch == 0 && out.epochs_done == 0)
            spdlog::info("first step done {:.3f} s after the program started",
                         std::chrono::duration<double>(clock::now() - kProgramStart).count());
        images_this_epoch += batch;
        if (progress) {
            const int64_t done = st.global_step % steps_per_epoch ? st.global_step % steps_per_epoch : steps_per_epoch;
            const double wall = std::chrono::duration<double>(clock::now() - epoch_start).count();
            const double per_step = wall / double(images_this_epoch / batch);
            progress->update({epoch + 1, c.epochs, done, steps_per_epoch,
                              train_seconds > 0 ? double(images_this_epoch) / train_seconds : 0.0,
                              st.epoch_loss_sum / double(done), per_step * double(steps_per_epoch - done),
                              per_step * double(total_steps - st.global_step)},
                             std::chrono::duration<double>(clock::now() - kProgramStart).count());
        }

        const bool epoch_end = st.global_step % steps_per_epoch == 0;
        if (epoch_end) {
            finish_save();  // a periodic save's record goes before this epoch's: records stay in step order
            const EvalResult val = evaluate(st.net, data.validation, eval_ws);
            const EvalResult test = evaluate(st.net, data.test, eval_ws);
            const double secs = std::chrono::duration<double>(clock::now() - epoch_start).count();
            const double rate = train_seconds > 0 ? double(images_this_epoch) / train_seconds : 0.0;
            if (progress) progress->clear();
            epoch_log->info("epoch {} global_step {} loss {:.4f} validation_accuracy {} test_accuracy {:.4f} "
                            "seconds {:.2f} images_per_s {:.0f}",
                            epoch + 1, st.global_step, st.epoch_loss_sum / double(steps_per_epoch),
                            data.validation.size() ? fmt::format("{:.4f}", val.accuracy) : std::string("n/a"),
                            test.accuracy, secs, rate);
            nlohmann::ordered_json r = {{"event", "epoch"}, {"step", st.global_step}, {"epoch", epoch + 1},
                                        {"loss", st.epoch_loss_sum / double(steps_per_epoch)}};
            r["validation_accuracy"] = data.validation.size() ? nlohmann::ordered_json(val.accuracy) : nullptr;
            r["test_accuracy"] = test.accuracy;
            r["seconds"] = secs;
            r["images_per_s"] = rate;
            record(r);
            save("end of epoch");
            ++out.epochs_done;
            epoch_start = clock::now();
            train_seconds = 0;
            images_this_epoch = 0;
        } else if ((c.save_every_steps > 0 && st.global_step % c.save_every_steps == 0) ||
                   (c.save_every_secs > 0 &&
                    std::chrono::duration<double>(clock::now() - last_save).count() >= c.save_every_secs)) {
            save("periodic");
        }
        if (const int sig = stop_signal.load()) {
            if (progress) progress->clear();
            spdlog::warn("signal {} received: saving at global_step {} and stopping", sig, st.global_step);
            if (!epoch_end) save("stop requested");
            out.stopped_by_signal = sig;
            break;
        }
    }
    finish_save();
    if (st.global_step >= total_steps && out.epochs_done == 0 && !out.stopped_by_signal)
        spdlog::info("'{}' already holds global_step {} = {} epochs; nothing to train (raise --epochs to continue)",
                     c.ckpt_dir, st.global_step, st.global_step / steps_per_epoch);
    out.global_step = st.global_step;
    return out;
}

}  // namespace mnist
