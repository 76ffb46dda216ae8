// TensorFlow 1.x RMSProp update (formulas in rmsprop.hpp).
#include "src/model/rmsprop.hpp"

#include <cmath>
#include <stdexcept>

#include <omp.h>

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

namespace {
RmsPropScalars scalars(const RmsPropConfig& c) { return {c.learning_rate, 1.0f - c.decay, c.momentum, c.epsilon}; }
}  // namespace

void rmsprop_apply(const RmsPropConfig& c, float* var, float* ms, float* mom, const float* grad, long n) {
    rmsprop_update(scalars(c), var, ms, mom, grad, n);
}

void rmsprop_step(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads) {
    if (opt.mom_deferred) throw std::logic_error("rmsprop_step: the momentum slots are deferred (settle_momentum first)");
    for (size_t l = 0; l < net.weights.size(); ++l)
        rmsprop_apply(opt.config, net.weights[l].data(), opt.ms[l].data(), opt.mom[l].data(), grads[l].data(),
                      long(net.weights[l].size()));
}

void rmsprop_step_deferring_momentum(RmsProp& opt, Mlp& net, const std::vector<Matrix>& grads) {
    // Only a momentum of +0 turns every finite momentum into a zero of its own sign.
    const bool zero = opt.config.momentum == 0.0f && !std::signbit(opt.config.momentum);
    // On one thread the update is bound by its square roots and divisions, not by memory, and the
    // sign bits cost more than the slot's traffic saves (docs/benchmarks.md): a team of one thread
    // starts no deferral. Slots already deferred stay so until settled: their last gradient is
    // overwritten by the step that computes the next one.
    if (!zero || (!opt.mom_deferred && omp_get_max_threads() < 2)) return rmsprop_step(opt, net, grads);
    const size_t L = net.weights.size();
    if (!opt.mom_deferred) {
        // The slots hold the momentum: take their sign bits, and defer only if every one is finite
        // (mom * 0 is NaN for an inf or a NaN: such a slot must be read).
        opt.mom_signs.resize(L);
        bool finite = true;
        for (size_t l = 0; l < L; ++l) {
            opt.mom_signs[l].resize((size_t(opt.mom[l].size()) + 7) / 8);
            finite = momentum_signs(opt.mom[l].data(), opt.mom_signs[l].data(), long(opt.mom[l].size())) && finite;
        }
        if (!finite) return rmsprop_step(opt, net, grads);
    }
    const RmsPropScalars s = scalars(opt.config);
    bool finite = true;
    for (size_t l = 0; l < L; ++l)
        finite = rmsprop_update_deferred(s, net.weights[l].data(), opt.ms[l].data(), opt.mom_signs[l].data(),
                                         grads[l].data(), long(net.weights[l].size())) &&
                 finite;
    opt.mom_deferred = true;
    if (!finite) settle_momentum(opt, grads);  // the next update must read them
}

void settle_momentum(RmsProp& opt, const std::vector<Matrix>& grads) {
    if (!opt.mom_deferred) return;
    const RmsPropScalars s = scalars(opt.config);
    for (size_t l = 0; l < opt.mom.size(); ++l)
        rebuild_momentum(s, opt.mom[l].data(), opt.ms[l].data(), opt.mom_signs[l].data(), grads[l].data(),
                        long(opt.mom[l].size()));
    opt.mom_deferred = false;
}

}  // namespace mnist
