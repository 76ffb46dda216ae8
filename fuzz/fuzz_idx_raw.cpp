// libFuzzer target: the IDX reader on raw bytes, as an image file and as a label file. Any input
// must give either checked arrays consistent with their header or an IdxError; nothing else.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data_loader/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return 0;  // fuzz_idx_gzip's input
    const std::vector<uint8_t> bytes(data, data + size);
    try {
        const mnist::IdxImages im = mnist::decode_idx_images(bytes, "fuzz");
        if (im.pixels.size() != uint64_t(im.count) * im.rows * im.cols || im.count == 0) std::abort();
    } catch (const mnist::IdxError&) {
    }
    try {
        const std::vector<uint8_t> labels = mnist::decode_idx_labels(bytes, "fuzz", 10);
        if (labels.empty() || labels.size() + 8 != size) std::abort();
        for (uint8_t l : labels)
            if (l >= 10) std::abort();
    } catch (const mnist::IdxError&) {
    }
    return 0;
}
