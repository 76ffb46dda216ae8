// RMSProp with TensorFlow 1.x semantics (tf.train.RMSPropOptimizer, kernel ApplyRMSProp):
//   ms  += (g*g - ms) * (1 - decay)            ms ("rms" slot) starts at 1
//   mom  = momentum*mom + lr*g / sqrt(ms + eps) mom ("momentum" slot) starts at 0
//   var -= mom
// in float32, in exactly this order (the algebraically equal decay*ms + (1-decay)*g*g differs in
// the last bit). State is plain ordered data: one slot of each kind per weight, in weight order,
// except that the training loop leaves the momentum slots out of date between saves
// (rmsprop_step_deferring_momentum; every reader settles them first, and the checkpoint codec
// refuses deferred slots).
#pragma once
#include <cstdint>
#include <vector>

#include "src/model/mlp.hpp"

namespace mnist {

struct RmsPropConfig {
    float learning_rate = 0.001f;
    float decay = 0.9f;
    float momentum = 0.0f;
    float epsilon = 1e-10f;
};

struct RmsProp {
    RmsPropConfig config;
    std::vector<Matrix> ms;   // saved as "<weight>/RMSProp" (TensorFlow's slot name)
    std::vector<Matrix> mom;  // saved as "<weight>/RMSProp_1"; out of date while mom_deferred
    // Set by rmsprop_step_deferring_momentum: mom is not up to date, settle_momentum gives it back
    // from the last gradients, ms and mom_signs (the sign bit of each momentum, 8 to a byte).
    bool mom_deferred = false;
    std::vector<std::vector<uint8_t>> mom_signs;
};

// Slots shaped like net's weights: ms = 1, mom = 0.
RmsProp make_rmsprop(const Mlp& net, const RmsPropConfig& config);

// One update of every weight from grads (same order and shapes as net.weights).
// Element-wise, so the result does not depend on the thread count.
// throws std::logic_error when the momentum slots are deferred (settle_momentum first).
void rmsprop_step(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads);

// rmsprop_step, but with momentum 0 the momentum slots are left out of date: the training loop's
// update, which then reads and writes three arrays of a weight's size instead of four (a step
// 0.962-0.982 of the time on 2 threads where memory bound the update; no difference where it did
// not, docs/benchmarks.md), for the same bits
// (src/numerics/update.hpp says why). Sets opt.mom_deferred; settle_momentum with the same grads,
// unchanged, gives opt.mom its value. With any other momentum, while a momentum is not finite (inf
// or NaN, which must be read), or on a team of one thread with the slots up to date (there the
// deferral is slower), it is rmsprop_step and writes the slots.
void rmsprop_step_deferring_momentum(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads);

// Writes opt.mom as rmsprop_step would have, when the last step deferred it; grads must be the
// gradients that step was given, unchanged since. Does nothing otherwise.
void settle_momentum(RmsProp& opt, const std::vector<Matrix>& grads);

// The update of n elements, the single loop rmsprop_step runs on each tensor.
void rmsprop_apply(const RmsPropConfig& c, float* var, float* ms, float* mom, const float* grad, long n);

}  // namespace mnist
