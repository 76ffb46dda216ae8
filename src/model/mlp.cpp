// Forward and backward passes of the dropout MLP (see mlp.hpp).
#include "src/model/mlp.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "src/numerics/elementwise.hpp"
#include "src/numerics/gemm.hpp"
#include "src/numerics/rng.hpp"

namespace mnist {

std::string weight_name(size_t layer, size_t num_layers) {
    if (layer + 1 == num_layers) return "w_o";
    return layer == 0 ? "w_h" : "w_h" + std::to_string(layer + 1);
}

Mlp init_mlp(const std::vector<int>& sizes, uint64_t seed, float stddev) {
    Mlp net;
    net.sizes = sizes;
    for (size_t l = 0; l + 1 < sizes.size(); ++l) {
        Matrix w(sizes[l], sizes[l + 1]);
        fill_normal(w.data(), size_t(w.size()), stddev, seed, uint32_t(l));
        net.weights.push_back(std::move(w));
    }
    return net;
}

Workspace make_workspace(const Mlp& net, int capacity, WorkspaceUse use) {
    const bool training = use == WorkspaceUse::training;
    Workspace ws;
    ws.capacity = capacity;
    ws.input.resize(capacity, net.sizes.front());
    for (size_t l = 1; l + 1 < net.sizes.size(); ++l) {
        ws.hidden.emplace_back(capacity, net.sizes[l]);
        if (training) ws.delta.emplace_back(capacity, net.sizes[l]);
    }
    ws.logits.resize(capacity, net.sizes.back());
    if (training) {
        for (const Matrix& w : net.weights) ws.grads.emplace_back(w.rows(), w.cols());
        ws.labels.resize(size_t(capacity));
        ws.row_losses.resize(size_t(capacity));
    }
    // The non-zero lists too are sized here (for a fully dense worst case), so no step allocates.
    ws.nonzeros.resize(net.layers());
    int widest = 0;
    for (size_t l = 0; l < net.layers(); ++l) {
        ws.nonzeros[l].reshape(capacity, net.sizes[l]);
        widest = std::max(widest, net.sizes[l]);
    }
    if (training) {
        ws.nonzeros_t.reshape(widest, capacity);
        ws.nonzeros_delta.reshape(capacity, widest);
    }
    return ws;
}

namespace {

// Widest weight gradient computed as a dense product (training_pass).
constexpr int kDenseGradientMaxCols = 16;

// Dropout stream position of layer `layer` at `step`; masks of different layers and steps never share counters.
uint32_t mask_stream(uint64_t step, size_t layer) { return uint32_t(layer) | uint32_t(step >> 32) << 8; }

// Dropout (and ReLU when relu is set) on the `rows` rows of the layer's batch slice x (rows
// d.first_row.. of the batch, `cols` wide), each element's mask drawn for (seed, step, layer, its
// position in the batch) as elementwise.hpp says, and `nonzeros` = the result's non-zeros, listed
// in the same pass (sparse.hpp).
void dropout_and_list(float* x, int rows, int cols, float keep, bool relu, const DropoutSpec& d, size_t layer,
                      SparseRows& nonzeros) {
    dropout_compress(rows, cols, x, size_t(d.first_row) * cols, keep, relu, d.seed, uint32_t(d.step),
                     mask_stream(d.step, layer), nonzeros);
}

// Times the parts of a step into ws.profile when it is set; otherwise only runs them.
class Profiler {
public:
    explicit Profiler(StepProfile* p) : p_(p) {}
    // Runs f (returning the multiply-adds it did, or 0 for no product) as the next part of the step.
    template <class F>
    void operator()(const char* what, const std::string& weight, double dense_multiply_adds, F&& f) {
        if (!p_) {
            f();
            return;
        }
        const auto start = std::chrono::steady_clock::now();
        const double done = double(f());
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (next_ == p_->parts.size()) p_->parts.push_back({std::string(what) + (weight.empty() ? "" : " " + weight)});
        StepProfile::Part& part = p_->parts[next_++];
        part.seconds += seconds;
        part.multiply_adds += done;
        part.dense_multiply_adds += dense_multiply_adds;
    }
    ~Profiler() {
        if (p_) ++p_->steps;
    }

private:
    StepProfile* p_;
    size_t next_ = 0;
};

// The forward pass through every layer, writing hidden outputs and logits.
// When input_listed, ws.nonzeros[0] already lists the non-zeros of ws.input.
void forward(const Mlp& net, Workspace& ws, int n, const DropoutSpec* d, const std::vector<PackedB>* packed,
             Profiler& timed, bool input_listed = false) {
    const size_t L = net.layers();
    const float* in = ws.input.data();
    bool compressed = input_listed;  // ws.nonzeros[l] already lists the non-zeros of `in`
    for (size_t l = 0; l < L; ++l) {
        const int fan_in = net.sizes[l], fan_out = net.sizes[l + 1];
        const std::string name = ws.profile ? weight_name(l, L) : std::string();
        float* out = l + 1 < L ? ws.hidden[l].data() : ws.logits.data();
        if (!compressed)
            timed("non-zeros of the input of", name, 0, [&] {
                compress(Trans::N, n, fan_in, in, ws.nonzeros[l]);
                return 0;
            });
        timed("forward product with", name, double(n) * fan_in * fan_out, [&] {
            return gemm_sparse_or_dense(Trans::N, Trans::N, in, ws.nonzeros[l], fan_out, net.weights[l].data(), out,
                                        packed ? &(*packed)[l] : nullptr);
        });
        compressed = false;
        if (l + 1 < L && d && d->keep_hidden < 1.0f) {
            timed("ReLU, dropout and the non-zeros after", name, 0, [&] {
                dropout_and_list(out, n, fan_out, d->keep_hidden, true, *d, l + 1, ws.nonzeros[l + 1]);
                return 0;
            });
            compressed = true;
        } else if (l + 1 < L) {  // no dropout: ReLU and the next layer's non-zeros in one pass
            timed("ReLU and the non-zeros after", name, 0, [&] {
                relu_compress(n, fan_out, out, ws.nonzeros[l + 1]);
                return 0;
            });
            compressed = true;
        }
        in = out;
    }
}

// Row z's loss against `label`, and, when g is not null, (softmax - onehot) / divisor into g (which
// may be z itself: each z[c] is read before g[c] is written). Double accumulation in class order.
// Each exp(z[c] - max) is computed once and kept for the gradient (the same value either way; past
// kKeptClasses classes, more than uint8_t labels can name, it is computed again).
double softmax_row(const float* z, int classes, uint8_t label, int divisor, float* g) {
    constexpr int kKeptClasses = 256;
    double e[kKeptClasses];
    float zmax = z[0];
    for (int c = 1; c < classes; ++c) zmax = std::max(zmax, z[c]);
    double sum = 0;
    for (int c = 0; c < classes; ++c) {
        const double x = std::exp(double(z[c]) - zmax);
        if (c < kKeptClasses) e[c] = x;
        sum += x;
    }
    const double loss = std::log(sum) - (double(z[label]) - zmax);
    if (g)
        for (int c = 0; c < classes; ++c) {
            const double p = (c < kKeptClasses ? e[c] : std::exp(double(z[c]) - zmax)) / sum;
            g[c] = float((p - (c == label ? 1.0 : 0.0)) / divisor);
        }
    return loss;
}

// Each row's softmax cross-entropy against its label into row_loss[0..n) (or a workspace buffer
// when null), d loss / d logits (divided by batch_rows) over the logits in place; returns the
// losses' sum in row order. Rows are split over the team (exp dominates).
double loss_and_its_gradient(Workspace& ws, int n, int classes, const uint8_t* labels, int batch_rows,
                             double* row_loss, Profiler& timed) {
    double total = 0;
    timed("softmax cross-entropy and its gradient", "", 0, [&] {
        double* losses = row_loss ? row_loss : ws.row_losses.data();
#pragma omp parallel for schedule(static) if (n >= 32)
        for (int i = 0; i < n; ++i) {
            float* z = ws.logits.data() + size_t(i) * classes;
            losses[i] = softmax_row(z, classes, labels[i], batch_rows, z);
        }
        for (int i = 0; i < n; ++i) total += losses[i];
        return 0;
    });
    return total;
}

// ws.grads[l] = below^T * upstream over the n rows (below: layer l's input, upstream: d loss / d
// its output). A narrow gradient (w_o's 10 columns) is the dense product over every row, which
// costs less than transposing the non-zeros and gives the same bits while `upstream` is finite (a
// zero term then adds nothing: FMA(0, b, s) == s); the others skip the zero rows of `below`.
void weight_gradient(const Mlp& net, Workspace& ws, size_t l, int n, const float* below, const float* upstream,
                     Profiler& timed) {
    const int fan_in = net.sizes[l], fan_out = net.sizes[l + 1];
    const std::string name = ws.profile ? weight_name(l, net.layers()) : std::string();
    const double dense = double(n) * fan_in * fan_out;
    const auto finite = [](float v) { return std::isfinite(v); };
    const bool narrow_dense =
        fan_out <= kDenseGradientMaxCols && std::all_of(upstream, upstream + size_t(n) * fan_out, finite);
    if (!narrow_dense)
        timed("non-zeros transposed for the gradient of", name, 0, [&] {
            transpose(ws.nonzeros[l], ws.nonzeros_t);
            return 0;
        });
    timed("gradient of", name, dense, [&] {
        if (narrow_dense) {
            gemm(Trans::T, Trans::N, fan_in, fan_out, n, below, upstream, ws.grads[l].data());
            return int64_t(dense);
        }
        return gemm_sparse_or_dense(Trans::T, Trans::N, below, ws.nonzeros_t, fan_out, upstream, ws.grads[l].data());
    });
}

// The training pass on the n rows in ws.input, rows d.first_row.. of a batch of batch_rows rows:
// dropout, forward, each row's loss (into row_loss[0..n) when not null; their sum in row order is
// returned), d loss / d logits (divided by batch_rows), and backward through every
// layer. The weight gradients (sums over the rows) only when weight_grads is set.
double training_pass(const Mlp& net, Workspace& ws, int n, const uint8_t* labels, const DropoutSpec& d,
                     int batch_rows, double* row_loss, bool weight_grads) {
    const size_t L = net.layers();
    if (ws.grads.size() != L) throw std::logic_error("forward_backward needs a training workspace");
    Profiler timed(ws.profile);
    timed("dropout on the input and its non-zeros", "", 0, [&] {
        if (d.keep_input < 1.0f)
            dropout_and_list(ws.input.data(), n, net.sizes[0], d.keep_input, false, d, 0, ws.nonzeros[0]);
        else
            compress(Trans::N, n, net.sizes[0], ws.input.data(), ws.nonzeros[0]);
        return 0;
    });
    forward(net, ws, n, &d, nullptr, timed, true);
    const double total = loss_and_its_gradient(ws, n, net.sizes.back(), labels, batch_rows, row_loss, timed);
    // Backward: `upstream` is d loss / d (output of layer l), already through the activation.
    const float* upstream = ws.logits.data();
    for (size_t l = L; l-- > 0;) {
        const float* below = l == 0 ? ws.input.data() : ws.hidden[l - 1].data();
        const int fan_in = net.sizes[l], fan_out = net.sizes[l + 1];
        const std::string name = ws.profile ? weight_name(l, L) : std::string();
        const double dense = double(n) * fan_in * fan_out;
        if (weight_grads) weight_gradient(net, ws, l, n, below, upstream, timed);
        if (l == 0) break;
        float* dh = ws.delta[l - 1].data();
        if (l + 1 == L) {  // upstream is d loss / d logits: dense, k = the classes (gemm's short-k kernel)
            timed("backward product with", name, dense, [&] {
                gemm(Trans::N, Trans::T, n, fan_in, fan_out, upstream, net.weights[l].data(), dh);
                return int64_t(dense);
            });
        } else {  // upstream is masked by the layer's ReLU and dropout: mostly zeros
            timed("non-zeros of the gradient below", name, 0, [&] {
                compress(Trans::N, n, fan_out, upstream, ws.nonzeros_delta);
                return 0;
            });
            timed("backward product with", name, dense, [&] {
                return gemm_sparse_or_dense(Trans::N, Trans::T, upstream, ws.nonzeros_delta, fan_in,
                                            net.weights[l].data(), dh);
            });
        }
        // Through ReLU and dropout: h > 0 exactly where the unit was active and kept, and there
        // d h / d z = 1 / keep (1 without dropout).
        timed("ReLU and dropout on the gradient below", name, 0, [&] {
            through_activation(dh, ws.hidden[l - 1].data(), size_t(n) * fan_in, d.keep_hidden);
            return 0;
        });
        upstream = dh;
    }
    return total;
}

}  // namespace

double softmax_cross_entropy(const float* logits, int n, int classes, const uint8_t* labels, float* dlogits) {
    double total = 0;
    for (int i = 0; i < n; ++i)
        total += softmax_row(logits + size_t(i) * classes, classes, labels[i], n,
                             dlogits ? dlogits + size_t(i) * classes : nullptr);
    return n > 0 ? total / n : 0.0;
}

double forward_backward(const Mlp& net, Workspace& ws, int n, const uint8_t* labels, const DropoutSpec& d) {
    const double total = training_pass(net, ws, n, labels, d, n, nullptr, true);
    return n > 0 ? total / n : 0.0;
}

void forward_backward_rows(const Mlp& net, Workspace& ws, int n, const uint8_t* labels, const DropoutSpec& d,
                           int batch_rows, double* row_loss) {
    training_pass(net, ws, n, labels, d, batch_rows, row_loss, false);
    ws.nonzeros_by_column.resize(net.layers());
    for (size_t l = 0; l < net.layers(); ++l) transpose(ws.nonzeros[l], ws.nonzeros_by_column[l]);
}

void weight_gradient_go_on(const Mlp& net, Workspace& ws, size_t layer, int n, int row_begin, int row_end) {
    if (layer >= net.layers() || ws.nonzeros_by_column.size() != net.layers() || ws.nonzeros_by_column[layer].cols != n)
        throw std::logic_error("weight_gradient_go_on needs forward_backward_rows on the same rows first");
    const float* upstream = layer + 1 == net.layers() ? ws.logits.data() : ws.delta[layer].data();
    sparse_gemm_go_on(ws.nonzeros_by_column[layer], row_begin, row_end, Trans::N, net.sizes[layer + 1], upstream,
                      ws.grads[layer].data());
}

std::vector<PackedB> pack_weights(const Mlp& net) {
    std::vector<PackedB> packed;
    for (size_t l = 0; l < net.layers(); ++l)
        packed.emplace_back(Trans::N, net.sizes[l], net.sizes[l + 1], net.weights[l].data());
    return packed;
}

void forward_logits(const Mlp& net, Workspace& ws, int n, const std::vector<PackedB>* packed) {
    Profiler timed(ws.profile);
    forward(net, ws, n, nullptr, packed, timed);
}

}  // namespace mnist
