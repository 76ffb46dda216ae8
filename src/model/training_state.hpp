// The training state: everything a run needs to continue exactly (weights, RMSProp slots, the step
// counter, the partial loss of the epoch, the configuration). A checkpoint is this state on disk;
// the trainer changes it one step at a time. The small values derived from it (the epoch, the steps
// into it, the epoch's mean loss) are computed here, once.
#pragma once
#include <cstdint>

#include "src/config.hpp"
#include "src/model/mlp.hpp"
#include "src/model/rmsprop.hpp"

namespace mnist {

struct TrainingState {
    TrainConfig config;
    Mlp net;
    RmsProp opt;
    int64_t global_step = 0;       // optimizer steps taken
    int64_t steps_per_epoch = 0;   // fixes where global_step falls in the epoch order
    double epoch_loss_sum = 0;     // sum of the batch losses of the current epoch so far
    double saved_at = 0;           // unix time of the save (0 until saved)

    // The epoch the next step belongs to (0-based); after the last step of epoch e it is e + 1.
    int64_t epoch() const { return steps_per_epoch > 0 ? global_step / steps_per_epoch : 0; }
    // Steps of the current epoch already taken: 1..steps_per_epoch once a step was taken in it (an
    // epoch just finished counts whole), 0 only before the first step of a run.
    int64_t steps_into_epoch() const {
        if (steps_per_epoch <= 0 || global_step == 0) return 0;
        const int64_t in = global_step % steps_per_epoch;
        return in ? in : steps_per_epoch;
    }
    // True right after the last step of an epoch.
    bool at_epoch_end() const { return steps_per_epoch > 0 && global_step > 0 && global_step % steps_per_epoch == 0; }
    // Mean batch loss of the current epoch so far (of the epoch just finished, at its end).
    double epoch_mean_loss() const {
        const int64_t n = steps_into_epoch();
        return n > 0 ? epoch_loss_sum / double(n) : 0.0;
    }
};

// The optimizer settings of a configuration, in the float32 the update computes in.
RmsPropConfig rmsprop_config(const TrainConfig& c);

// A new run's state: weights from N(0, 0.01^2) drawn from c.seed, RMSProp slots at their initial
// values, global_step 0, for a network input_size-c.hidden...-10.
TrainingState initial_state(const TrainConfig& c, int input_size, int64_t steps_per_epoch);

}  // namespace mnist
