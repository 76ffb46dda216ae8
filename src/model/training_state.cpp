// A new run's training state (see training_state.hpp).
#include "src/model/training_state.hpp"

namespace mnist {

RmsPropConfig rmsprop_config(const TrainConfig& c) {
    return {float(c.learning_rate), float(c.decay), float(c.momentum), float(c.epsilon)};
}

TrainingState initial_state(const TrainConfig& c, int input_size, int64_t steps_per_epoch) {
    std::vector<int> sizes = {input_size};
    sizes.insert(sizes.end(), c.hidden.begin(), c.hidden.end());
    sizes.push_back(10);
    TrainingState st;
    st.config = c;
    st.net = init_mlp(sizes, c.seed);
    st.opt = make_rmsprop(st.net, rmsprop_config(c));
    st.steps_per_epoch = steps_per_epoch;
    return st;
}

}  // namespace mnist
