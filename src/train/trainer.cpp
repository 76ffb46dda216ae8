// The training loop (see trainer.hpp).
#include "src/train/trainer.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <thread>

#include <omp.h>

#include "src/numerics/gemm.hpp"
#include "src/train/epoch_order.hpp"
#include "src/train/ranks.hpp"
#include "src/train/save_schedule.hpp"
#include "src/train/team_tuner.hpp"

namespace mnist {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// With --threads 0 the team follows the step times (team_tuner.hpp): fewer threads while another
// process slows the steps down. No result depends on the team size.
std::optional<TeamTuner> team_tuner_for(int threads) {
    if (threads != 0) return std::nullopt;
    return TeamTuner(omp_get_max_threads());
}

void follow_team(TeamTuner& tuner, double step_seconds, int64_t step, RunLog& log) {
    const TeamTuner::Change change = tuner.record(step_seconds);
    if (change == TeamTuner::Change::team) set_compute_threads(tuner.threads());
    if (change == TeamTuner::Change::home_moved) log.team_move(tuner.last_move(), step);
}

// The save that ends the run (its last step, or a stop signal) must land: it is retried with a
// growing wait, and when it never does the run ends with SaveError saying what is on disk.
void land_last_save(SaveSchedule& saves, const TrainingState& st, int64_t start_step, RunLog& log,
                    const FinalSaveRetries& retries) {
    if (st.global_step == start_step || saves.last_saved_step() == st.global_step) return;
    double wait = retries.first_wait;
    for (int attempt = 2; attempt <= retries.attempts; ++attempt) {
        log.retrying_save(st.global_step, attempt, retries.attempts, wait);
        std::this_thread::sleep_for(std::chrono::duration<double>(wait));
        wait *= 2;
        log.save(saves.save_now(st, "end of run, retried"), false);
        if (saves.last_saved_step() == st.global_step) return;
    }
    throw SaveError(unsaved_message(saves.dir(), st.global_step,
                                    saves.last_error().empty() ? "the save did not run" : saves.last_error()));
}

// A rank other than 0 of a data-parallel run: rank 0's state, then the same steps, evaluations and
// stop decisions as rank 0 (each is a collective), without saving or logging anything.
TrainOutcome follow(const TrainConfig& c, const Mnist& data, const std::atomic<int>& stop_signal, Comm& comm) {
    const RunShape shape = run_shape(c, data);
    set_compute_threads(c.threads);
    TrainingState st = initial_state(c, shape.input_size, shape.steps_per_epoch);
    share_state(comm, st);
    const std::unique_ptr<Ranks> ranks = make_ranks(comm, st);
    EpochOrder order(data.train.size(), c.batch_size, shape.steps_per_epoch, c.seed, c.shuffle);
    std::optional<TeamTuner> tuner = team_tuner_for(c.threads);
    TrainOutcome out;
    while (st.global_step < shape.total_steps) {
        const auto t0 = std::chrono::steady_clock::now();
        ranks->step(st, data.train, order.batch(st.global_step));
        if (tuner && tuner->record(seconds_since(t0)) == TeamTuner::Change::team) set_compute_threads(tuner->threads());
        if (st.at_epoch_end()) {
            ranks->evaluate(st.net, data.validation);
            ranks->evaluate(st.net, data.test);
            ++out.epochs_done;
        }
        if (const int sig = ranks->agreed_stop(stop_signal.load())) {
            out.stopped_by_signal = sig;
            break;
        }
    }
    ranks->bytes_per_step();  // rank 0 logs everyone's
    out.global_step = st.global_step;
    return out;
}

}  // namespace

double train_step(TrainingState& st, const Dataset& train, const uint32_t* rows, Workspace& ws) {
    const int batch = int(st.config.batch_size);
    gather_batch(train, rows, 0, size_t(batch), ws.input.data());
    for (int i = 0; i < batch; ++i) ws.labels[size_t(i)] = train.labels[rows[i]];
    const DropoutSpec dropout{float(st.config.keep_prob_input), float(st.config.keep_prob_hidden), st.config.seed,
                              uint64_t(st.global_step)};
    const double loss = forward_backward(st.net, ws, batch, ws.labels.data(), dropout);
    rmsprop_step_deferring_momentum(st.opt, st.net, ws.grads);
    count_step(st, loss);
    return loss;
}

void count_step(TrainingState& st, double loss) {
    if (st.global_step % st.steps_per_epoch == 0) st.epoch_loss_sum = 0;
    st.epoch_loss_sum += loss;
    ++st.global_step;
}

TrainOutcome train(const TrainConfig& c, const Mnist& data, const std::atomic<int>& stop_signal, FaultPoint fault,
                   const TrainReporting& report, const FinalSaveRetries& retries, Comm* comm) {
    SingleProcess alone;
    Comm& world = comm ? *comm : alone;
    check_ranks_agree(world, c, data);
    if (world.rank() != 0) return follow(c, data, stop_signal, world);
    const RunShape shape = run_shape(c, data);
    set_compute_threads(c.threads);
    Start start = restore_or_initialize(c, shape, fault);
    TrainingState& st = start.state;
    share_state(world, st);
    const std::unique_ptr<Ranks> ranks = make_ranks(world, st);
    RunLog log(c, report);
    log.begin(st, start.restored_file);
    SaveSchedule saves(start.saver, c);
    EpochOrder order(data.train.size(), c.batch_size, shape.steps_per_epoch, c.seed, c.shuffle);
    std::optional<TeamTuner> tuner = team_tuner_for(c.threads);

    const int64_t start_step = st.global_step;
    TrainOutcome out;
    while (st.global_step < shape.total_steps) {
        const auto t0 = std::chrono::steady_clock::now();
        ranks->step(st, data.train, order.batch(st.global_step));
        const double step_seconds = seconds_since(t0);
        if (tuner) follow_team(*tuner, step_seconds, st.global_step, log);
        log.step(st, step_seconds);

        const bool epoch_end = st.at_epoch_end(), periodic = !epoch_end && saves.due(st);
        if (epoch_end || periodic) ranks->settle(st);  // a save writes every slot
        if (epoch_end) {
            log.save(saves.settle());  // a periodic save's record goes before this epoch's
            const EvalResult validation = ranks->evaluate(st.net, data.validation);
            const EvalResult test = ranks->evaluate(st.net, data.test);
            log.epoch_end(st, validation, test);
            log.save(saves.start(st, "end of epoch"));
            ++out.epochs_done;
        } else if (periodic) {
            log.save(saves.start(st, "periodic"));
        }
        if (const int sig = ranks->agreed_stop(stop_signal.load())) {
            log.stop(sig, st.global_step);
            ranks->settle(st);
            if (!st.at_epoch_end()) log.save(saves.start(st, "stop requested"), false);
            out.stopped_by_signal = sig;
            break;
        }
    }
    ranks->settle(st);
    log.traffic(ranks->bytes_per_step());
    log.save(saves.settle_last(), false);
    land_last_save(saves, st, start_step, log, retries);
    out.global_step = st.global_step;
    out.last_checkpoint = saves.last_checkpoint();
    return out;
}

}  // namespace mnist
