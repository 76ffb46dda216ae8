// libFuzzer target: the IDX reader's gzip path. The first byte chooses the mode: 0 feeds the rest as
// a .gz file as it is (damaged streams, lying trailers, concatenated members); 1 compresses the rest
// first, so that the IDX checks behind a valid stream are reached too, and the result must equal the
// raw reading of the same bytes.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <vector>

#include "data_loader/idx.hpp"

namespace {

std::vector<uint8_t> gzip(const uint8_t* data, size_t size) {
    z_stream zs{};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
    std::vector<uint8_t> out(deflateBound(&zs, uLong(size)));
    zs.next_in = const_cast<Bytef*>(data);
    zs.avail_in = uInt(size);
    zs.next_out = out.data();
    zs.avail_out = uInt(out.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) std::abort();
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

template <class F>
bool same_outcome(F read, const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
    bool a_ok = true, b_ok = true;
    decltype(read(a)) ra{}, rb{};
    try { ra = read(a); } catch (const mnist::IdxError&) { a_ok = false; }
    try { rb = read(b); } catch (const mnist::IdxError&) { b_ok = false; }
    return a_ok == b_ok && (!a_ok || ra == rb);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const uint8_t mode = data[0] & 1;
    ++data;
    --size;
    if (mode == 0) {
        std::vector<uint8_t> bytes(data, data + size);
        if (bytes.size() < 2 || bytes[0] != 0x1f || bytes[1] != 0x8b) bytes.insert(bytes.begin(), {0x1f, 0x8b});
        try { mnist::decode_idx_images(bytes, "fuzz.gz"); } catch (const mnist::IdxError&) {}
        try { mnist::decode_idx_labels(bytes, "fuzz.gz"); } catch (const mnist::IdxError&) {}
        return 0;
    }
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return 0;  // raw reading would take it as gzip
    const std::vector<uint8_t> raw(data, data + size), gz = gzip(data, size);
    auto images = [](const std::vector<uint8_t>& b) { return mnist::decode_idx_images(b, "fuzz").pixels; };
    auto labels = [](const std::vector<uint8_t>& b) { return mnist::decode_idx_labels(b, "fuzz"); };
    if (!same_outcome(images, raw, gz) || !same_outcome(labels, raw, gz)) std::abort();
    return 0;
}
