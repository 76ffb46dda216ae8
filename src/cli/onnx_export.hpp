// A training checkpoint's network as an ONNX model, built with the protobuf classes of Debian's
// libonnx-dev (onnx::ModelProto): input "pixels" float32 [N, inputs] (pixel bytes times 1/255, as
// the trainer sees them; N dynamic), MatMul -> Relu per hidden layer, MatMul, Softmax(axis=1) to
// "probabilities" [N, classes]; opset 13, IR version 8; the weights as initializers; global_step,
// epoch and the configuration (JSON) in metadata_props. Without libonnx-dev at build time the
// project still builds and encode_onnx says so.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "src/model/training_state.hpp"

namespace mnist {

// True when this build has libonnx-dev's classes (MNIST_HAVE_ONNX).
bool onnx_available();

// The serialized ModelProto of st's network; `source` (the checkpoint's path) goes in the metadata.
// throws ConfigError when built without ONNX.
std::vector<uint8_t> encode_onnx(const TrainingState& st, const std::string& source);

}  // namespace mnist
