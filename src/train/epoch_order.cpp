// The order of each epoch (see epoch_order.hpp).
#include "src/train/epoch_order.hpp"

#include <numeric>

#include "src/numerics/rng.hpp"

namespace mnist {

EpochOrder::EpochOrder(size_t examples, int64_t batch_size, int64_t steps_per_epoch, uint64_t seed, bool shuffle)
    : examples_(examples), batch_size_(batch_size), steps_per_epoch_(steps_per_epoch), seed_(seed), shuffle_(shuffle) {}

const uint32_t* EpochOrder::batch(int64_t global_step) {
    const int64_t epoch = global_step / steps_per_epoch_;
    if (epoch != epoch_) {
        if (shuffle_) {
            shuffled_order(order_, examples_, seed_, uint64_t(epoch));
        } else {
            order_.resize(examples_);
            std::iota(order_.begin(), order_.end(), 0u);
        }
        epoch_ = epoch;
    }
    return order_.data() + (global_step % steps_per_epoch_) * batch_size_;
}

}  // namespace mnist
