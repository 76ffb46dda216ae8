// TensorFlow 1.x RMSProp update (formulas in rmsprop.hpp).
#include "src/model/rmsprop.hpp"

#include <cmath>

#include "src/numerics/update.hpp"

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
    rmsprop_update({c.learning_rate, 1.0f - c.decay, c.momentum, c.epsilon}, var, ms, mom, grad, n);
}

void rmsprop_step(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads) {
    for (size_t l = 0; l < net.weights.size(); ++l)
        rmsprop_apply(opt.config, net.weights[l].data(), opt.ms[l].data(), opt.mom[l].data(), grads[l].data(),
                      long(net.weights[l].size()));
}

}  // namespace mnist
