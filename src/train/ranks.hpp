// The processes of a run and what they share: the training step, the evaluations, a stop request.
// OneProcess is the run of a single process, exactly the code that ran before MPI existed here
// (train_step, evaluate). DataParallel is the run of several processes (mpirun -np N): each rank
// holds consecutive rows of every batch and does everything per row on them (dropout masks,
// forward, loss, backward: they depend only on the row's place in the batch); every sum over the
// rows continues, in row order, from the previous rank's partial sums (the loss, and each weight
// gradient: one FMA chain per element, sparse.hpp), block of gradient rows by block so that all
// ranks work at once, and the last rank broadcasts the result, which every rank applies. So the
// checkpoints do not depend on the number of processes, bit for bit, and a run can resume on any
// number. No float is ever added by an MPI reduction (its order would depend on the library and N).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data_loader/mnist.hpp"
#include "src/comm/comm.hpp"
#include "src/model/evaluate.hpp"
#include "src/model/training_state.hpp"

namespace mnist {

class Ranks {
public:
    virtual ~Ranks() = default;
    // The training step on batch `rows` of train (every rank passes the same rows): as train_step.
    virtual double step(TrainingState& st, const Dataset& train, const uint32_t* rows) = 0;
    // Brings st up to date for a save: the momentum slots the last step deferred (settle_momentum
    // with that step's gradients). Call between steps.
    virtual void settle(TrainingState& st) = 0;
    // evaluate(net, data), the rows shared among the ranks; the result is whole on rank 0 only.
    virtual EvalResult evaluate(const Mlp& net, const Dataset& data) = 0;
    // The stop signal every rank acts on after a step: the largest of the ranks' `local` ones (a
    // signal that reached any rank stops them all at the same step).
    virtual int agreed_stop(int local) = 0;
    // The mean bytes each rank sent per training step so far (gradients, loss), indexed by rank; a
    // collective call. One process: {0}.
    virtual std::vector<int64_t> bytes_per_step() = 0;
};

// The ranks of comm for training st (its network shapes): OneProcess for one process, else DataParallel.
// throws ConfigError when the batch has fewer rows than processes.
std::unique_ptr<Ranks> make_ranks(Comm& comm, const TrainingState& st);

// The rows [begin, end) of a batch of `batch` rows held by `rank` of `ranks`: consecutive ranges in
// rank order, sizes differing by at most one.
struct RowRange {
    int64_t begin = 0, end = 0;
};
RowRange rows_of_rank(int rank, int ranks, int64_t batch);

// Checks, before any step, that every rank was started with rank 0's options (c) and loaded the
// same data. On a difference every rank throws RanksDisagree, naming the first rank that differs and
// what differs (rank 0 alone need print it). One process: nothing.
void check_ranks_agree(Comm& comm, const TrainConfig& c, const Mnist& data);

// Rank 0's state (restored or new) becomes every rank's: weights, RMSProp slots, step counter,
// the epoch's partial loss. Other ranks pass the initial_state of the same configuration.
void share_state(Comm& comm, TrainingState& st);

}  // namespace mnist
