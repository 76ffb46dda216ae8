// The network: 784-H1-...-Hn-10, ReLU, no biases, inverted dropout on the input and after each
// hidden ReLU, mean softmax cross-entropy. Forward and backward passes over a preallocated
// workspace. Every product is gemm's (bits independent of the thread count); those whose left
// operand is mostly zeros (inputs and hidden outputs after ReLU and dropout, gradients masked by
// them) skip the zero terms, which changes no bit (sparse.hpp).
#pragma once
#include <Eigen/Core>
#include <cstdint>
#include <string>
#include <vector>

#include "src/numerics/sparse.hpp"

namespace mnist {

using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Mlp {
    std::vector<int> sizes;       // layer widths: input, hidden..., classes
    std::vector<Matrix> weights;  // weights[l] is sizes[l] x sizes[l+1]
    size_t layers() const { return weights.size(); }
};

// The tutorial's names: w_h, w_h2, w_h3, ... for hidden layers, w_o for the output layer.
std::string weight_name(size_t layer, size_t num_layers);

// requires: sizes.size() >= 2, every width >= 1.
// ensures:  weights drawn from N(0, stddev^2), a pure function of (seed, layer, element).
Mlp init_mlp(const std::vector<int>& sizes, uint64_t seed, float stddev = 0.01f);

struct DropoutSpec {
    float keep_input = 1.0f;   // keep probability of each input pixel
    float keep_hidden = 1.0f;  // keep probability of each hidden unit
    uint64_t seed = 0;
    uint64_t step = 0;         // masks are a pure function of (seed, step, layer, element)
    int64_t first_row = 0;     // the batch row of the workspace's row 0 (a slice of a batch shared
                               // by several processes; an element's mask is that of its batch row)
};

// Where the time of forward_backward goes, summed over the calls made with Workspace::profile set
// (bench_step prints it). Parts are listed in the order a step runs them.
struct StepProfile {
    struct Part {
        std::string name;
        double seconds = 0;
        double multiply_adds = 0;        // done (a product that skips zeros does fewer)
        double dense_multiply_adds = 0;  // of the same product with every term
    };
    std::vector<Part> parts;
    int64_t steps = 0;
};

// Buffers for batches of up to `capacity` rows; sized once, so a step allocates nothing.
struct Workspace {
    int capacity = 0;
    Matrix input;                  // capacity x sizes[0]: the batch, dropout applied in place
    std::vector<Matrix> hidden;    // capacity x sizes[l+1]: ReLU (and dropout) outputs
    std::vector<Matrix> delta;     // same shapes as hidden: gradient of the loss w.r.t. them
    Matrix logits;                 // capacity x classes; after backward, d loss / d logits
    std::vector<uint8_t> labels;   // capacity: the labels of the batch in input (training)
    std::vector<double> row_losses;  // capacity: each row's loss, before their sum (training)
    std::vector<Matrix> grads;     // same shapes as the weights
    std::vector<SparseRows> nonzeros;  // of the input and of each hidden output, by rows (forward)
    SparseRows nonzeros_t;         // the same transposed, for a weight gradient (backward)
    SparseRows nonzeros_delta;     // of a gradient masked by ReLU and dropout
    std::vector<SparseRows> nonzeros_by_column;  // transposed nonzeros, every layer (forward_backward_rows)
    StepProfile* profile = nullptr;  // when set, forward_backward times its parts into it
};
// An inference workspace (forward_logits only) has no gradient buffers.
enum class WorkspaceUse { training, inference };
Workspace make_workspace(const Mlp& net, int capacity, WorkspaceUse use = WorkspaceUse::training);

// One training pass on the n rows in ws.input (pixels in [0,1]) with labels[0..n):
// applies dropout, computes the mean cross-entropy and the gradient of every weight into ws.grads.
// Returns the mean loss (summed in double in row order, independent of the thread count).
double forward_backward(const Mlp& net, Workspace& ws, int n, const uint8_t* labels, const DropoutSpec& dropout);

// A slice of a batch (data-parallel training, where each process holds consecutive rows of every
// batch): forward_backward on the n rows in ws.input, which are rows d.first_row.. of a batch of
// batch_rows rows, without the sums over rows. The dropout masks are those of the batch rows, each
// row's loss goes to row_loss[0..n), d loss / d logits is divided by batch_rows, and the gradient
// is carried back to every layer's input; the weight gradients are left to weight_gradient_go_on.
void forward_backward_rows(const Mlp& net, Workspace& ws, int n, const uint8_t* labels, const DropoutSpec& dropout,
                           int batch_rows, double* row_loss);

// Rows [row_begin, row_end) of the gradient of weight `layer`, in ws.grads[layer], continue their
// sums over the batch rows with this slice's n rows (after forward_backward_rows on them): one FMA
// chain per element, going on from the partial sums held there (zeros for the batch's first slice).
// Slices continued in batch order give forward_backward's gradient bit for bit (sparse.hpp).
void weight_gradient_go_on(const Mlp& net, Workspace& ws, size_t layer, int n, int row_begin, int row_end);

// The weights packed for the products of inference (PackedB, sparse.hpp): worth it when they serve
// many batches, as in an evaluation. Valid until the weights change.
std::vector<PackedB> pack_weights(const Mlp& net);

// Inference (no dropout) on the n rows in ws.input; ws.logits holds the result. `packed`, when
// given, is pack_weights(net) (the same bits, without packing the weights in every product).
void forward_logits(const Mlp& net, Workspace& ws, int n, const std::vector<PackedB>* packed = nullptr);

// Mean cross-entropy of the logits' rows against labels (and, if `dlogits` is not null, writes
// (softmax - onehot) / n into it). Double accumulation in row order.
double softmax_cross_entropy(const float* logits, int n, int classes, const uint8_t* labels, float* dlogits);

}  // namespace mnist
