// The checkpoint file codec: a TrainingState as one safetensors file `model-<step>.safetensors`,
// with a CRC-32 of every tensor and of the metadata, and the reverse with every check a restore
// needs (format, version, checksums, that the weights chain into a network, the configuration).
// Pure bytes and data; the files themselves are written by durable_io and managed by checkpoint_dir.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "src/checkpoint/safetensors.hpp"
#include "src/model/training_state.hpp"

namespace mnist {

constexpr const char* kCheckpointFormat = "mnist-mlp-checkpoint";
constexpr int kCheckpointFormatVersion = 1;

std::string checkpoint_file_name(int64_t step);                        // "model-<step>.safetensors"
std::optional<int64_t> step_from_file_name(const std::string& name);   // its inverse, or nullopt

// The file's tensors and metadata, checksums included; saved_at as given (s.saved_at by default).
TensorFile to_tensor_file(const TrainingState& s);
TensorFile to_tensor_file(const TrainingState& s, double saved_at);
// The bytes of s's checkpoint file when saved at `now` (seconds since the Unix epoch).
std::vector<uint8_t> encode_checkpoint(const TrainingState& s, double now);
// Checks format and version, the metadata checksum, each tensor's checksum, that the weights chain
// into a network (w_h, w_h2, ..., w_o), the slots' and global_step's shapes, and the configuration.
// throws CheckpointError naming `what`, the field or tensor, what was expected and what was found.
TrainingState from_tensor_file(const TensorFile& f, const std::string& what);

// Any safetensors file, read and layout-checked (not necessarily a training checkpoint).
// throws CheckpointError naming path.
TensorFile read_tensor_file(const std::string& path);
// Reads and verifies one checkpoint (also that global_step matches the step in the file name, when
// it has one). throws CheckpointError naming path.
TrainingState read_checkpoint(const std::string& path);
// The same checks on a checkpoint's bytes already read (from a descriptor); path names it in messages.
TrainingState checkpoint_from_bytes(const std::vector<uint8_t>& bytes, const std::string& path);

// The metadata entry 'tensor_crc32' of these tensors: a JSON object of name -> CRC-32 (8 hex digits).
std::string tensor_crc32_json(const std::vector<Tensor>& tensors);
// Checks f's 'tensor_crc32' entry: present, listing exactly f's tensors, every checksum matching.
// throws CheckpointError naming `what`, the tensor, the stored and the computed checksum.
void verify_tensor_crc32(const TensorFile& f, const std::string& what);

}  // namespace mnist
