// Chunked inference over a data set (see evaluate.hpp).
#include "src/model/evaluate.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>

#include <omp.h>

namespace mnist {

namespace {
// One inference workspace per thread of the current team.
void fit_team(const Mlp& net, EvalWorkspace& ws) {
    while (ws.per_thread.size() < size_t(omp_get_max_threads()))
        ws.per_thread.push_back(make_workspace(net, kEvalChunk, WorkspaceUse::inference));
}
}  // namespace

EvalWorkspace make_eval_workspace(const Mlp& net) {
    EvalWorkspace ws;
    fit_team(net, ws);
    return ws;
}

std::string input_mismatch(const Mlp& net, const Dataset& data, const std::string& images) {
    if (size_t(net.sizes.front()) == data.image_size()) return "";
    return "the network takes " + std::to_string(net.sizes.front()) + " inputs but " + images + " have " +
           std::to_string(data.image_size()) + " pixels";
}

void evaluate_rows(const Mlp& net, const Dataset& data, size_t first, size_t count, EvalWorkspace& ws, double* losses,
                   uint8_t* predicted) {
    if (const std::string why = input_mismatch(net, data, "the images"); !why.empty()) throw std::invalid_argument(why);
    const int classes = net.sizes.back();
    fit_team(net, ws);
    const std::vector<PackedB> packed = pack_weights(net);  // once, for every chunk
    const int64_t chunks = int64_t((count + kEvalChunk - 1) / kEvalChunk);
    std::exception_ptr failure;  // an exception may not leave a parallel region: rethrown after it
#pragma omp parallel for schedule(dynamic, 1) if (chunks > 1)
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        try {
            Workspace& w = ws.per_thread[size_t(omp_get_thread_num())];
            const size_t at = size_t(chunk) * kEvalChunk;
            const int n = int(std::min<size_t>(kEvalChunk, count - at));
            gather_batch(data, nullptr, first + at, size_t(n), w.input.data());
            forward_logits(net, w, n, &packed);  // grows the workspace's lists of non-zeros on first use
            for (int i = 0; i < n; ++i) {
                const float* z = w.logits.data() + size_t(i) * classes;
                losses[at + i] = softmax_cross_entropy(z, 1, classes, &data.labels[first + at + i], nullptr);
                predicted[at + i] = uint8_t(std::max_element(z, z + classes) - z);  // the first of equal maxima
            }
        } catch (...) {
#pragma omp critical(mnist_evaluate_failure)
            if (!failure) failure = std::current_exception();
        }
    }
    if (failure) std::rethrow_exception(failure);
}

EvalResult evaluate(const Mlp& net, const Dataset& data, EvalWorkspace& ws) {
    // Each row's loss and predicted class, filled by whichever thread runs its chunk.
    std::vector<double> losses(data.size());
    std::vector<uint8_t> predicted(data.size());
    evaluate_rows(net, data, 0, data.size(), ws, losses.data(), predicted.data());
    return summarize_evaluation(data, net.sizes.back(), losses, predicted);
}

EvalResult summarize_evaluation(const Dataset& data, int classes, const std::vector<double>& losses,
                                const std::vector<uint8_t>& predicted) {
    EvalResult r;
    r.count = int64_t(data.size());
    r.confusion.assign(classes, std::vector<int64_t>(classes, 0));
    double loss_sum = 0;
    for (size_t i = 0; i < data.size(); ++i) {  // in row order: the sum does not depend on the chunks
        loss_sum += losses[i];
        const uint8_t label = data.labels[i], best = predicted[i];
        ++r.confusion[label][best];
        if (best == label) ++r.correct;
        else {
            r.errors.push_back(uint32_t(i));
            r.error_predictions.push_back(best);
        }
    }
    if (r.count > 0) {
        r.accuracy = double(r.correct) / double(r.count);
        r.loss = loss_sum / double(r.count);
    }
    for (int c = 0; c < classes; ++c) {
        int64_t total = 0;
        for (int64_t v : r.confusion[c]) total += v;
        r.per_class_accuracy.push_back(total ? double(r.confusion[c][c]) / double(total) : 0.0);
    }
    return r;
}

}  // namespace mnist
