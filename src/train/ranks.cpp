// The processes of a run (see ranks.hpp).
#include "src/train/ranks.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "src/numerics/gemm.hpp"
#include "src/train/trainer.hpp"

namespace mnist {
namespace {

// Rows of a weight gradient per message of the chain: a rank passes a block on as soon as it has
// continued it, so rank r works on block b while rank r + 1 works on block b - 1.
constexpr int kChainRows = 64;

class OneProcess : public Ranks {
public:
    explicit OneProcess(const TrainingState& st)
        : ws_(make_workspace(st.net, int(st.config.batch_size))), eval_ws_(make_eval_workspace(st.net)) {}
    double step(TrainingState& st, const Dataset& train, const uint32_t* rows) override {
        return train_step(st, train, rows, ws_);
    }
    void settle(TrainingState& st) override { settle_momentum(st.opt, ws_.grads); }
    EvalResult evaluate(const Mlp& net, const Dataset& data) override { return mnist::evaluate(net, data, eval_ws_); }
    int agreed_stop(int local) override { return local; }
    std::vector<int64_t> bytes_per_step() override { return {0}; }

private:
    Workspace ws_;
    EvalWorkspace eval_ws_;
};

class DataParallel : public Ranks {
public:
    DataParallel(Comm& comm, const TrainingState& st)
        : comm_(comm),
          mine_(rows_of_rank(comm.rank(), comm.size(), st.config.batch_size)),
          ws_(make_workspace(st.net, int(mine_.end - mine_.begin))),
          eval_ws_(make_eval_workspace(st.net)),
          row_loss_(size_t(mine_.end - mine_.begin)) {}

    double step(TrainingState& st, const Dataset& train, const uint32_t* rows) override {
        const int batch = int(st.config.batch_size), n = int(mine_.end - mine_.begin);
        const int64_t sent_before = comm_.bytes_sent();
        gather_batch(train, rows + mine_.begin, 0, size_t(n), ws_.input.data());
        for (int i = 0; i < n; ++i) ws_.labels[size_t(i)] = train.labels[rows[mine_.begin + i]];
        DropoutSpec dropout{float(st.config.keep_prob_input), float(st.config.keep_prob_hidden), st.config.seed,
                            uint64_t(st.global_step)};
        dropout.first_row = mine_.begin;
        forward_backward_rows(st.net, ws_, n, ws_.labels.data(), dropout, batch, row_loss_.data());
        const double loss = chain_loss() / batch;
        chain_gradients(st.net);
        rmsprop_step_deferring_momentum(st.opt, st.net, ws_.grads);
        count_step(st, loss);
        step_bytes_ += comm_.bytes_sent() - sent_before;
        ++steps_;
        return loss;
    }

    void settle(TrainingState& st) override { settle_momentum(st.opt, ws_.grads); }
    EvalResult evaluate(const Mlp& net, const Dataset& data) override;
    int agreed_stop(int local) override { return int(comm_.max(local)); }
    std::vector<int64_t> bytes_per_step() override { return comm_.gather_all(steps_ ? step_bytes_ / steps_ : 0); }

private:
    int last() const { return comm_.size() - 1; }
    double chain_loss();
    void chain_gradients(const Mlp& net);

    Comm& comm_;
    RowRange mine_;
    Workspace ws_;
    EvalWorkspace eval_ws_;
    std::vector<double> row_loss_;
    double loss_sum_ = 0;  // sent to the next rank: must outlive the send
    int64_t step_bytes_ = 0, steps_ = 0;  // sent by this rank in its steps, and their number
};

// The batch's loss: the sum over its rows in row order (as forward_backward sums it), each rank
// going on from the previous one's; the last rank's sum is everyone's.
double DataParallel::chain_loss() {
    const int r = comm_.rank();
    loss_sum_ = 0;
    if (r > 0) comm_.receive(r - 1, &loss_sum_, sizeof loss_sum_);
    for (double l : row_loss_) loss_sum_ += l;
    if (r < last()) comm_.send(r + 1, &loss_sum_, sizeof loss_sum_);
    comm_.wait_sends();
    double total = loss_sum_;
    comm_.broadcast(last(), &total, sizeof total);
    return total;
}

// Every weight gradient, summed over the batch's rows in order: rank 0 starts each block of
// gradient rows from zeros, every other rank receives the block from the rank before, continues its
// chains with its own rows and passes it on; the last rank then broadcasts the whole gradients.
void DataParallel::chain_gradients(const Mlp& net) {
    const int r = comm_.rank(), n = int(mine_.end - mine_.begin);
    for (size_t l = 0; l < net.layers(); ++l) {
        const int rows = net.sizes[l], cols = net.sizes[l + 1];
        for (int i0 = 0; i0 < rows; i0 += kChainRows) {
            const int i1 = std::min(rows, i0 + kChainRows);
            float* block = ws_.grads[l].data() + size_t(i0) * cols;
            const size_t bytes = sizeof(float) * size_t(i1 - i0) * cols;
            if (r == 0) std::fill(block, block + size_t(i1 - i0) * cols, 0.0f);
            else comm_.receive(r - 1, block, bytes);
            weight_gradient_go_on(net, ws_, l, n, i0, i1);
            if (r < last()) comm_.send(r + 1, block, bytes);
        }
    }
    comm_.wait_sends();
    for (Matrix& g : ws_.grads) comm_.broadcast(last(), g.data(), sizeof(float) * size_t(g.size()));
}

// Each rank evaluates a consecutive share of the rows; rank 0 gathers every row's loss and
// prediction and sums them in row order, as evaluate does.
EvalResult DataParallel::evaluate(const Mlp& net, const Dataset& data) {
    const int r = comm_.rank();
    const RowRange share = rows_of_rank(r, comm_.size(), int64_t(data.size()));
    const size_t first = size_t(share.begin), count = size_t(share.end - share.begin);
    std::vector<double> losses(r == 0 ? data.size() : count);
    std::vector<uint8_t> predicted(losses.size());
    evaluate_rows(net, data, first, count, eval_ws_, losses.data() + (r == 0 ? first : 0),
                  predicted.data() + (r == 0 ? first : 0));
    if (r != 0) {
        comm_.send(0, losses.data(), sizeof(double) * count);
        comm_.send(0, predicted.data(), count);
        comm_.wait_sends();
        return {};
    }
    for (int from = 1; from < comm_.size(); ++from) {
        const RowRange s = rows_of_rank(from, comm_.size(), int64_t(data.size()));
        const size_t len = size_t(s.end - s.begin);
        comm_.receive(from, losses.data() + s.begin, sizeof(double) * len);
        comm_.receive(from, predicted.data() + s.begin, len);
    }
    return summarize_evaluation(data, net.sizes.back(), losses, predicted);
}

// What differs between rank 0's configuration (JSON text) and this rank's, one "key: ..." per field.
std::string config_differences(const std::string& theirs, const std::string& mine, int rank) {
    const nlohmann::json a = nlohmann::json::parse(theirs), b = nlohmann::json::parse(mine);
    std::string out;
    for (auto it = a.begin(); it != a.end(); ++it) {
        const auto other = b.find(it.key());
        if (other != b.end() && *other == it.value()) continue;
        out += (out.empty() ? "" : "; ") + it.key() + ": rank 0 has " + it.value().dump() + ", rank " +
               std::to_string(rank) + " has " + (other == b.end() ? "nothing" : other->dump());
    }
    return out;
}

// Rank 0's bytes of `text` to every rank.
std::string broadcast_text(Comm& comm, int root, std::string text) {
    int64_t length = int64_t(text.size());
    comm.broadcast(root, &length, sizeof length);
    text.resize(size_t(length));
    comm.broadcast(root, text.data(), text.size());
    return text;
}

}  // namespace

RowRange rows_of_rank(int rank, int ranks, int64_t batch) {
    return {batch * rank / ranks, batch * (rank + 1) / ranks};
}

void check_ranks_agree(Comm& comm, const TrainConfig& c, const Mnist& data) {
    if (comm.size() == 1) return;
    const std::string mine = to_json(c);
    std::string problem = config_differences(broadcast_text(comm, 0, mine), mine, comm.rank());
    const std::string theirs = broadcast_text(comm, 0, data.fingerprint);  // data_loader's data_fingerprint
    if (theirs != data.fingerprint)
        problem += (problem.empty() ? "" : "; ") + std::string("the data differ (fingerprint ") + theirs +
                   " on rank 0, " + data.fingerprint + " here)";
    const std::vector<int64_t> bad = comm.gather_all(problem.empty() ? 0 : 1);
    const auto first = std::find(bad.begin(), bad.end(), 1);
    if (first == bad.end()) return;
    const int who = int(first - bad.begin());
    problem = broadcast_text(comm, who, problem);
    throw RanksDisagree("rank " + std::to_string(who) + " of " + std::to_string(comm.size()) +
                      " was not started like rank 0 (every rank must get the same options and data files): " +
                      problem);
}

void share_state(Comm& comm, TrainingState& st) {
    if (comm.size() == 1) return;
    if (st.opt.mom_deferred) throw std::logic_error("share_state: the momentum slots are deferred");
    const auto share = [&](Matrix& m) { comm.broadcast(0, m.data(), sizeof(float) * size_t(m.size())); };
    for (size_t l = 0; l < st.net.layers(); ++l) {
        share(st.net.weights[l]);
        share(st.opt.ms[l]);
        share(st.opt.mom[l]);
    }
    int64_t counters[2] = {st.global_step, st.steps_per_epoch};
    comm.broadcast(0, counters, sizeof counters);
    st.global_step = counters[0];
    st.steps_per_epoch = counters[1];
    comm.broadcast(0, &st.epoch_loss_sum, sizeof st.epoch_loss_sum);
}

std::unique_ptr<Ranks> make_ranks(Comm& comm, const TrainingState& st) {
    if (comm.size() == 1) return std::make_unique<OneProcess>(st);
    if (st.config.batch_size < comm.size())
        throw ConfigError("--batch_size " + std::to_string(st.config.batch_size) + " is smaller than the " +
                          std::to_string(comm.size()) + " processes: each needs at least one row of every batch");
    return std::make_unique<DataParallel>(comm, st);
}

}  // namespace mnist
