// The safetensors file layout (8-byte little-endian header length, JSON header, raw tensor data),
// encoded and decoded with every offset, dtype and shape checked. No knowledge of models here.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "src/errors.hpp"

namespace mnist {

struct Tensor {
    std::string name;
    std::string dtype;            // "F32" or "I64" (others are rejected on read)
    std::vector<int64_t> shape;   // empty for a scalar
    std::vector<uint8_t> bytes;   // little-endian, row-major; size == elements * dtype size
    int64_t elements() const;
    // Typed access; throws CheckpointError when the dtype differs.
    const float* f32() const;
    int64_t i64_scalar() const;
};
Tensor make_f32(const std::string& name, std::vector<int64_t> shape, const float* data);
Tensor make_i64_scalar(const std::string& name, int64_t value);

struct TensorFile {
    std::vector<Tensor> tensors;                 // in file order
    std::map<std::string, std::string> metadata; // "__metadata__": string values only
    const Tensor* find(const std::string& name) const;  // nullptr when absent
};

// Serialises: header padded with spaces so that the data starts at a multiple of 8, tensors in
// the given order, contiguous.
std::vector<uint8_t> encode_safetensors(const TensorFile& f);
// Parses and checks: header length against the file size (and <= 100 MB), valid JSON, each entry's
// dtype known, shape non-negative, data_offsets in bounds, matching dtype*shape, non-overlapping and
// covering the data exactly. `what` names the file in error messages.
// throws CheckpointError naming `what`, the tensor/field, what was expected and what was found.
TensorFile decode_safetensors(const std::vector<uint8_t>& bytes, const std::string& what);

}  // namespace mnist
