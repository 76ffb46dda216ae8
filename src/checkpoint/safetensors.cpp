// The safetensors container: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and byte range, then the raw tensor data. Writing pads the header with spaces so the data
// starts on an 8-byte boundary; reading trusts nothing — every length, offset, dtype and shape is checked
// against the real file size before a byte of tensor data is copied, and every failure says which file,
// which tensor or field, what was expected and what was found.
#include "src/checkpoint/safetensors.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/text.hpp"

// Tensor bytes are stored little-endian and handed out as float*/int64_t without conversion.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors.cpp assumes a little-endian host (tensor bytes are used in place)");

namespace mnist {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;

[[noreturn]] void fail(const std::string& what, const std::string& message) {
    throw CheckpointError(what + ": " + message);
}

// Bytes per element of the dtypes this project reads and writes; 0 for any other dtype.
uint64_t dtype_size(const std::string& dtype) {
    if (dtype == "F32") return 4;
    if (dtype == "I64") return 8;
    return 0;
}

// Element count of a shape, or false when a dimension is negative or the product overflows int64.
bool checked_elements(const std::vector<int64_t>& shape, int64_t& out) {
    int64_t n = 1;
    for (int64_t d : shape) {
        if (d < 0) return false;
        if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) return false;
        n *= d;
    }
    out = n;
    return true;
}

// A JSON value shown in an error message, shortened so a corrupt header cannot flood the log.
std::string shown(const nlohmann::ordered_json& v) {
    std::string s = v.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    return s;
}

// Names come from the file: quoted as a short escaped excerpt.
std::string tensor_label(const std::string& name) {
    return "tensor \"" + excerpt(name) + "\"";
}

}  // namespace

int64_t Tensor::elements() const {
    int64_t n = 0;
    if (!checked_elements(shape, n))
        throw CheckpointError(tensor_label(name) + ": invalid shape " + shape_text(shape));
    return n;
}

const float* Tensor::f32() const {
    if (dtype != "F32") throw CheckpointError(tensor_label(name) + ": expected dtype F32, found " + dtype);
    const int64_t n = elements();
    if (bytes.size() != static_cast<uint64_t>(n) * 4)
        throw CheckpointError(tensor_label(name) + ": expected " + std::to_string(n * 4) + " bytes for F32 " +
                              shape_text(shape) + ", found " + std::to_string(bytes.size()));
    return reinterpret_cast<const float*>(bytes.data());
}

int64_t Tensor::i64_scalar() const {
    if (dtype != "I64") throw CheckpointError(tensor_label(name) + ": expected dtype I64, found " + dtype);
    if (!shape.empty())
        throw CheckpointError(tensor_label(name) + ": expected a scalar (shape []), found shape " +
                              shape_text(shape));
    if (bytes.size() != 8)
        throw CheckpointError(tensor_label(name) + ": expected 8 bytes for an I64 scalar, found " +
                              std::to_string(bytes.size()));
    int64_t v = 0;
    std::memcpy(&v, bytes.data(), 8);
    return v;
}

Tensor make_f32(const std::string& name, std::vector<int64_t> shape, const float* data) {
    Tensor t;
    t.name = name;
    t.dtype = "F32";
    t.shape = std::move(shape);
    const int64_t n = t.elements();
    if (static_cast<uint64_t>(n) > std::numeric_limits<size_t>::max() / 4)
        throw CheckpointError(tensor_label(name) + ": shape " + shape_text(t.shape) + " is too large");
    t.bytes.resize(static_cast<size_t>(n) * 4);
    if (n > 0) std::memcpy(t.bytes.data(), data, t.bytes.size());
    return t;
}

Tensor make_i64_scalar(const std::string& name, int64_t value) {
    Tensor t;
    t.name = name;
    t.dtype = "I64";
    t.bytes.resize(8);
    std::memcpy(t.bytes.data(), &value, 8);
    return t;
}

const Tensor* TensorFile::find(const std::string& name) const {
    for (const Tensor& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

std::vector<uint8_t> encode_safetensors(const TensorFile& f) {
    const std::string what = "safetensors encoder";
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!f.metadata.empty()) {
        nlohmann::ordered_json meta = nlohmann::ordered_json::object();
        for (const auto& [k, v] : f.metadata) meta[k] = v;
        header["__metadata__"] = std::move(meta);
    }
    uint64_t offset = 0;
    for (const Tensor& t : f.tensors) {
        if (t.name == "__metadata__") fail(what, "a tensor may not be named \"__metadata__\"");
        if (header.contains(t.name))
            fail(what, tensor_label(t.name) + " appears twice; names must be unique");
        const uint64_t size = dtype_size(t.dtype);
        if (size == 0) fail(what, tensor_label(t.name) + ": expected dtype F32 or I64, found " + t.dtype);
        int64_t n = 0;
        if (!checked_elements(t.shape, n))
            fail(what, tensor_label(t.name) + ": invalid shape " + shape_text(t.shape));
        if (t.bytes.size() / size != static_cast<uint64_t>(n) || t.bytes.size() % size != 0)
            fail(what, tensor_label(t.name) + ": expected " + std::to_string(n) + " elements of " + t.dtype +
                           " for shape " + shape_text(t.shape) + ", found " + std::to_string(t.bytes.size()) +
                           " bytes");
        header[t.name] = {
            {"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
        offset += t.bytes.size();
    }
    std::string text;
    try {
        text = header.dump();
    } catch (const nlohmann::ordered_json::exception& e) {  // a name or value that is not UTF-8
        fail(what, "cannot write the header as JSON: " + excerpt(e.what(), 200));
    }
    // The data then starts at 8 + text.size(), a multiple of 8.
    text.append((8 - text.size() % 8) % 8, ' ');

    std::vector<uint8_t> out;
    out.reserve(8 + text.size() + offset);
    const uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), text.begin(), text.end());
    for (const Tensor& t : f.tensors) out.insert(out.end(), t.bytes.begin(), t.bytes.end());
    return out;
}

namespace {

// A non-negative JSON integer no larger than `limit`, or false.
bool as_count(const nlohmann::ordered_json& v, uint64_t limit, uint64_t& out) {
    if (v.is_number_unsigned()) {
        out = v.get<uint64_t>();
    } else if (v.is_number_integer()) {
        const int64_t s = v.get<int64_t>();
        if (s < 0) return false;
        out = static_cast<uint64_t>(s);
    } else {
        return false;
    }
    return out <= limit;
}

struct Entry {
    Tensor tensor;
    uint64_t begin = 0, end = 0;
};

Entry read_entry(const std::string& what, const std::string& name, const nlohmann::ordered_json& e,
                 uint64_t data_size) {
    const std::string who = tensor_label(name);
    if (!e.is_object()) fail(what, who + ": expected an object, found " + shown(e));
    Entry out;
    out.tensor.name = name;

    if (!e.contains("dtype")) fail(what, who + ": missing field \"dtype\"");
    const auto& dtype = e["dtype"];
    if (!dtype.is_string()) fail(what, who + ": dtype: expected a string, found " + shown(dtype));
    out.tensor.dtype = dtype.get<std::string>();
    const uint64_t size = dtype_size(out.tensor.dtype);
    if (size == 0)
        fail(what, who + ": dtype: expected F32 or I64 (the only dtypes this reader accepts), found " +
                       shown(dtype));

    if (!e.contains("shape")) fail(what, who + ": missing field \"shape\"");
    const auto& shape = e["shape"];
    if (!shape.is_array()) fail(what, who + ": shape: expected an array, found " + shown(shape));
    for (size_t i = 0; i < shape.size(); ++i) {
        uint64_t d = 0;
        if (!as_count(shape[i], static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), d))
            fail(what, who + ": shape: expected a non-negative integer at index " + std::to_string(i) +
                           ", found " + shown(shape[i]));
        out.tensor.shape.push_back(static_cast<int64_t>(d));
    }
    int64_t n = 0;
    if (!checked_elements(out.tensor.shape, n) ||
        static_cast<uint64_t>(n) > std::numeric_limits<uint64_t>::max() / size)
        fail(what, who + ": shape " + shape_text(out.tensor.shape) + " has too many elements");
    const uint64_t nbytes = static_cast<uint64_t>(n) * size;

    if (!e.contains("data_offsets")) fail(what, who + ": missing field \"data_offsets\"");
    const auto& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2)
        fail(what, who + ": data_offsets: expected [begin, end], found " + shown(off));
    const uint64_t any = std::numeric_limits<uint64_t>::max();
    if (!as_count(off[0], any, out.begin) || !as_count(off[1], any, out.end))
        fail(what, who + ": data_offsets: expected two non-negative integers, found " + shown(off));
    if (out.begin > out.end)
        fail(what, who + ": data_offsets: expected begin <= end, found [" + std::to_string(out.begin) + ", " +
                       std::to_string(out.end) + "]");
    if (out.end > data_size)
        fail(what, who + ": data_offsets: end " + std::to_string(out.end) +
                       " is beyond the data section of " + std::to_string(data_size) + " bytes");
    if (out.end - out.begin != nbytes)
        fail(what, who + ": data_offsets: expected " + std::to_string(nbytes) + " bytes for " +
                       out.tensor.dtype + " " + shape_text(out.tensor.shape) + ", found " +
                       std::to_string(out.end - out.begin) + " bytes [" + std::to_string(out.begin) + ", " +
                       std::to_string(out.end) + "]");
    return out;
}

}  // namespace

TensorFile decode_safetensors(const std::vector<uint8_t>& bytes, const std::string& what) {
    if (bytes.size() < 8)
        fail(what,
             "file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    if (n == 0) fail(what, "header length is 0, expected a JSON header");
    if (n > kMaxHeaderBytes)
        fail(what, "header length " + std::to_string(n) + " exceeds the limit of " +
                       std::to_string(kMaxHeaderBytes) + " bytes");
    if (n > bytes.size() - 8)
        fail(what, "header length " + std::to_string(n) + " extends beyond the file: only " +
                       std::to_string(bytes.size() - 8) + " bytes follow the length field");
    const uint64_t data_start = 8 + n;
    const uint64_t data_size = bytes.size() - data_start;

    const char* text = reinterpret_cast<const char*>(bytes.data()) + 8;
    if (json_depth(text, text + n) > kMaxJsonDepth)
        fail(what, "header: JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                       " levels (a safetensors header has 3)");
    nlohmann::ordered_json header;
    try {
        header = nlohmann::ordered_json::parse(bytes.begin() + 8, bytes.begin() + data_start);
    } catch (const nlohmann::ordered_json::exception& e) {
        fail(what, "header is not valid UTF-8 JSON: " + excerpt(e.what(), 200));
    }
    if (!header.is_object())
        fail(what, std::string("header: expected a JSON object, found ") + header.type_name());

    TensorFile out;
    std::vector<Entry> entries;
    for (const auto& [key, value] : header.items()) {
        if (key == "__metadata__") {
            if (!value.is_object())
                fail(what, "__metadata__: expected an object of strings, found " + shown(value));
            for (const auto& [mk, mv] : value.items()) {
                if (!mv.is_string())
                    fail(what, "__metadata__: \"" + excerpt(mk) + "\": expected a string, found " + shown(mv));
                out.metadata[mk] = mv.get<std::string>();
            }
            continue;
        }
        entries.push_back(read_entry(what, key, value, data_size));
    }

    // File order is data order; a stable sort keeps header order among empty tensors at one offset.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    uint64_t cursor = 0;
    const std::string* previous = nullptr;
    for (const Entry& e : entries) {
        if (e.begin < cursor)
            fail(what, tensor_label(e.tensor.name) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                           std::to_string(e.end) + "] overlap " + tensor_label(*previous) +
                           ", which ends at " + std::to_string(cursor));
        if (e.begin > cursor)
            fail(what, tensor_label(e.tensor.name) + ": data_offsets: expected begin " +
                           std::to_string(cursor) + " (tensors must be contiguous), found " +
                           std::to_string(e.begin) + "; bytes [" + std::to_string(cursor) + ", " +
                           std::to_string(e.begin) + ") belong to no tensor");
        cursor = e.end;
        previous = &e.tensor.name;
    }
    if (cursor != data_size)
        fail(what, "data section is " + std::to_string(data_size) + " bytes but the tensors cover " +
                       std::to_string(cursor) + "; " + std::to_string(data_size - cursor) +
                       " trailing bytes belong to no tensor");

    out.tensors.reserve(entries.size());
    for (Entry& e : entries) {
        e.tensor.bytes.assign(bytes.begin() + data_start + e.begin, bytes.begin() + data_start + e.end);
        out.tensors.push_back(std::move(e.tensor));
    }
    return out;
}

}  // namespace mnist
