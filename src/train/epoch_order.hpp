// Which rows of the training set each step trains on: epoch e's order is a pure function of
// (seed, e) (or file order without shuffling), cut into batches in order, the remainder dropped.
// A resumed run therefore finds its next batch from global_step alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnist {

class EpochOrder {
public:
    // requires: batch_size * steps_per_epoch <= examples.
    EpochOrder(size_t examples, int64_t batch_size, int64_t steps_per_epoch, uint64_t seed, bool shuffle);

    // The batch_size row indices that step `global_step` trains on (valid until the next call);
    // each epoch's order is computed once, when its first batch is asked for.
    const uint32_t* batch(int64_t global_step);

private:
    size_t examples_;
    int64_t batch_size_, steps_per_epoch_;
    uint64_t seed_;
    bool shuffle_;
    int64_t epoch_ = -1;  // the epoch order_ holds
    std::vector<uint32_t> order_;
};

}  // namespace mnist
