// TensorFlow 1.x RMSProp update (formulas in rmsprop.hpp).
#include "src/model/rmsprop.hpp"

#include <cmath>

namespace mnist {

RmsProp make_rmsprop(const Mlp& net, const RmsPropConfig& config) {
    RmsProp opt;
    opt.config = config;
    for (const Matrix& w : net.weights) {
        opt.ms.push_back(Matrix::Ones(w.rows(), w.cols()));
        opt.mom.push_back(Matrix::Zero(w.rows(), w.cols()));
    }
    return opt;
}

void rmsprop_apply(const RmsPropConfig& c, float* var, float* ms, float* mom, const float* grad, long n) {
    const float one_minus_decay = 1.0f - c.decay;
    const float lr = c.learning_rate, momentum = c.momentum, eps = c.epsilon;
#pragma omp parallel for schedule(static) if (n > (1 << 15))
    for (long i = 0; i < n; ++i) {
        const float g = grad[i];
        ms[i] += (g * g - ms[i]) * one_minus_decay;
        mom[i] = mom[i] * momentum + (g * lr) / std::sqrt(ms[i] + eps);
        var[i] -= mom[i];
    }
}

void rmsprop_step(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads) {
    for (size_t l = 0; l < net.weights.size(); ++l)
        rmsprop_apply(opt.config, net.weights[l].data(), opt.ms[l].data(), opt.mom[l].data(), grads[l].data(),
                      long(net.weights[l].size()));
}

}  // namespace mnist
