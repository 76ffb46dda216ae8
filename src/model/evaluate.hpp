// Evaluation of a network on a data set: accuracy, mean loss, per-class accuracy and the confusion
// matrix, computed in chunks so memory stays small whatever the data set's size.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "data_loader/mnist.hpp"
#include "src/model/mlp.hpp"

namespace mnist {

struct EvalResult {
    int64_t count = 0;
    int64_t correct = 0;
    double accuracy = 0;   // correct / count (0 for an empty set)
    double loss = 0;       // mean softmax cross-entropy
    std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
    std::vector<double> per_class_accuracy;       // correct / count of each true class (0 if none)
    std::vector<uint32_t> errors;                 // indices of misclassified images, ascending
    std::vector<uint8_t> error_predictions;       // the predicted class of each of errors
};

// Images per chunk of an evaluation. The chunks are shared out among the threads of the team, one
// at a time, and each thread runs the whole forward pass of its chunk alone (its products on one
// thread): no barrier between layers, and a thread slowed by a neighbour on a shared machine only
// takes fewer chunks. 128 rows keep a thread's workspace small (~3 MB) and the share-out even.
constexpr int kEvalChunk = 128;

// Buffers of evaluate: an inference workspace of kEvalChunk rows for each thread of the team
// (evaluate adds any that a larger team needs).
struct EvalWorkspace {
    std::vector<Workspace> per_thread;
};
EvalWorkspace make_eval_workspace(const Mlp& net);

// Why net cannot take data's images ("" when it can), for a caller's message: "the network takes
// 784 inputs but <images> have 100 pixels", where `images` names them ("the test images").
std::string input_mismatch(const Mlp& net, const Dataset& data, const std::string& images);

// requires: ws was made for net; labels below net's class count. Throws std::invalid_argument
// (input_mismatch's words) when net does not take data's images.
// The result does not depend on the thread count (each row's logits are computed the same way in
// any chunk, and the losses are summed in row order).
EvalResult evaluate(const Mlp& net, const Dataset& data, EvalWorkspace& ws);

// The two halves of evaluate, for an evaluation shared by several processes: each row's loss and
// predicted class for rows [first, first + count) of data (into losses[0..count), predicted[0..count)),
// then the result from every row's (data.size() of each), the loss summed in row order.
void evaluate_rows(const Mlp& net, const Dataset& data, size_t first, size_t count, EvalWorkspace& ws, double* losses,
                   uint8_t* predicted);
EvalResult summarize_evaluation(const Dataset& data, int classes, const std::vector<double>& losses,
                                const std::vector<uint8_t>& predicted);

}  // namespace mnist
