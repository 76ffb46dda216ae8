// libFuzzer target: the safetensors decoder and the checkpoint codec behind it. Decoding any bytes
// gives a TensorFile or a CheckpointError; every decoded tensor's typed access works or throws
// CheckpointError; encoding what was decoded and decoding again gives the same tensors and metadata;
// reading the file as a training checkpoint succeeds or throws CheckpointError.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "src/checkpoint/checkpoint_file.hpp"
#include "src/checkpoint/safetensors.hpp"

namespace {

bool same(const mnist::TensorFile& a, const mnist::TensorFile& b) {
    if (a.metadata != b.metadata || a.tensors.size() != b.tensors.size()) return false;
    for (size_t i = 0; i < a.tensors.size(); ++i) {
        const mnist::Tensor &x = a.tensors[i], &y = b.tensors[i];
        if (x.name != y.name || x.dtype != y.dtype || x.shape != y.shape || x.bytes != y.bytes) return false;
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::vector<uint8_t> bytes(data, data + size);
    mnist::TensorFile f;
    try {
        f = mnist::decode_safetensors(bytes, "fuzz.safetensors");
    } catch (const mnist::CheckpointError&) {
        return 0;
    }
    for (const mnist::Tensor& t : f.tensors) {
        try {
            if (t.dtype == "F32") {
                const float* p = t.f32();
                if (t.elements() > 0 && p == nullptr) std::abort();
            } else {
                t.i64_scalar();
            }
        } catch (const mnist::CheckpointError&) {
        }
        if (f.find(t.name) == nullptr) std::abort();
    }
    mnist::TensorFile again;
    try {
        again = mnist::decode_safetensors(mnist::encode_safetensors(f), "fuzz (re-encoded)");
    } catch (const mnist::CheckpointError&) {
        std::abort();  // what was read must be writable and read back
    }
    if (!same(f, again)) std::abort();
    try {
        mnist::from_tensor_file(f, "fuzz.safetensors");
    } catch (const mnist::CheckpointError&) {
    }
    return 0;
}
