// The training loop: restore-or-initialize from the checkpoint directory, then epochs of batches
// (forward, backward, RMSProp), evaluation and a save at each epoch end, saves every N steps / S
// seconds and on a stop request. Everything random is a pure function of (seed, step), so a run
// resumed from any checkpoint continues bit for bit as if it had never stopped.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "data_loader/mnist.hpp"
#include "src/comm/comm.hpp"
#include "src/train/run_log.hpp"
#include "src/train/start.hpp"

namespace mnist {

// ./train's exit status when the run could not save the state it reached (SaveError): the final
// save or the save at a stop signal failed after its retries (sysexits' EX_TEMPFAIL: rerun later).
constexpr int kExitUnsaved = 75;

struct TrainOutcome {
    int64_t global_step = 0;
    int64_t epochs_done = 0;
    int stopped_by_signal = 0;  // the signal number if a stop was requested, else 0
    std::string last_checkpoint;
};

// The training step: the batch of rows `rows` of `train` -> forward -> backward -> RMSProp. Adds the
// batch's mean loss to st.epoch_loss_sum (restarted at an epoch's first step) and returns it.
// The update defers the momentum slots (rmsprop_step_deferring_momentum): settle_momentum(st.opt,
// ws.grads) before reading them (a save).
// requires: ws is a training workspace for st.net with room for config.batch_size rows.
double train_step(TrainingState& st, const Dataset& train, const uint32_t* rows, Workspace& ws);

// The bookkeeping at the end of every step: the epoch's loss sum (restarted at its first step), the counter.
void count_step(TrainingState& st, double loss);

// Runs training as c says, on `data`. `stop_signal` is polled after every step: when non-zero, the
// trainer saves and returns with stopped_by_signal set. Reports through a RunLog (see run_log.hpp).
// requires: validate(c) passed.
// throws ConfigError (settings that cannot resume the checkpoint, a batch larger than the data),
// CheckpointError (directory unusable or locked, a bad --init_from), SaveError (kMaxFailedSavesInARow
// failed saves in a row; the save that ends the run, at its last step or at a stop signal, failed
// `retries.attempts` times: the message names the step reached and the newest checkpoint on disk).
// Returning normally means the state reached is on disk.
// With `comm` of several processes (mpirun), the run is data-parallel (ranks.hpp): rank 0 restores,
// saves, logs and writes the metrics as a single process does, the others only compute; every rank
// must call train with the same options and data (checked: RanksDisagree), and all stop at the same
// step, with the same outcome. Without comm, one process.
TrainOutcome train(const TrainConfig& c, const Mnist& data, const std::atomic<int>& stop_signal,
                   FaultPoint fault = FaultPoint::none, const TrainReporting& report = {},
                   const FinalSaveRetries& retries = {}, Comm* comm = nullptr);

}  // namespace mnist
