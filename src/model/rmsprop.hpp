// RMSProp with TensorFlow 1.x semantics (tf.train.RMSPropOptimizer, kernel ApplyRMSProp):
//   ms  += (g*g - ms) * (1 - decay)            ms ("rms" slot) starts at 1
//   mom  = momentum*mom + lr*g / sqrt(ms + eps) mom ("momentum" slot) starts at 0
//   var -= mom
// in float32, in exactly this order (the algebraically equal decay*ms + (1-decay)*g*g differs in
// the last bit). State is plain ordered data: one slot of each kind per weight, in weight order.
#pragma once
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
    std::vector<Matrix> mom;  // saved as "<weight>/RMSProp_1"
};

// Slots shaped like net's weights: ms = 1, mom = 0.
RmsProp make_rmsprop(const Mlp& net, const RmsPropConfig& config);

// One update of every weight from grads (same order and shapes as net.weights).
// Element-wise, so the result does not depend on the thread count.
void rmsprop_step(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads);

// The update of n elements, the single loop rmsprop_step runs on each tensor.
void rmsprop_apply(const RmsPropConfig& c, float* var, float* ms, float* mom, const float* grad, long n);

}  // namespace mnist
