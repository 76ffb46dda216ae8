// The checkpoint file codec (see checkpoint_file.hpp).
#include "src/checkpoint/checkpoint_file.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <nlohmann/json.hpp>

#include "src/checkpoint/durable_io.hpp"
#include "src/text.hpp"

namespace fs = std::filesystem;

namespace mnist {
namespace {

std::string hex32(uint32_t v) {
    char buf[9];
    std::snprintf(buf, sizeof buf, "%08x", v);
    return buf;
}

uint32_t crc32_of(const void* data, size_t n) {
    uLong crc = crc32(0L, Z_NULL, 0);
    const auto* p = static_cast<const Bytef*>(data);
    while (n > 0) {  // zlib takes uInt lengths
        const uInt chunk = uInt(std::min<size_t>(n, 1u << 30));
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return uint32_t(crc);
}

// Checksum of every metadata entry but its own, in key order.
uint32_t metadata_crc(const std::map<std::string, std::string>& md) {
    std::string all;
    for (const auto& [k, v] : md)
        if (k != "metadata_crc32") all += k + '\0' + v + '\0';
    return crc32_of(all.data(), all.size());
}

std::string hexfloat(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    return buf;
}

const Tensor& require(const TensorFile& f, const std::string& name, const std::string& what) {
    const Tensor* t = f.find(name);
    if (!t) throw CheckpointError(what + ": tensor '" + excerpt(name) + "' is missing");
    return *t;
}

const std::string& require_meta(const TensorFile& f, const std::string& key, const std::string& what) {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw CheckpointError(what + ": __metadata__ has no '" + excerpt(key) + "' entry");
    return it->second;
}

Matrix read_matrix(const TensorFile& f, const std::string& name, int64_t rows, int64_t cols, const std::string& what) {
    const Tensor& t = require(f, name, what);
    const std::vector<int64_t> want = {rows, cols};
    if (t.dtype != "F32" || t.shape != want)
        throw CheckpointError(what + ": tensor '" + excerpt(name) + "' should be F32 " + shape_text(want) + ", found " +
                              t.dtype + " " + shape_text(t.shape));
    Matrix m(rows, cols);
    std::memcpy(m.data(), t.f32(), sizeof(float) * size_t(rows * cols));
    return m;
}

int64_t parse_int(const std::string& text, const std::string& field, const std::string& what) {
    try {
        size_t used = 0;
        const long long v = std::stoll(text, &used);
        if (used == text.size()) return v;
    } catch (const std::exception&) {
    }
    throw CheckpointError(what + ": metadata '" + field + "' should be an integer, found '" + excerpt(text) + "'");
}

double parse_double(const std::string& text, const std::string& field, const std::string& what) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0')
        throw CheckpointError(what + ": metadata '" + field + "' should be a number, found '" + excerpt(text) + "'");
    return v;
}

}  // namespace

std::string checkpoint_file_name(int64_t step) { return "model-" + std::to_string(step) + ".safetensors"; }

std::optional<int64_t> step_from_file_name(const std::string& name) {
    const std::string prefix = "model-", suffix = ".safetensors";
    if (name.size() <= prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        return std::nullopt;
    const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
    if (digits.size() > 18 || !std::all_of(digits.begin(), digits.end(), ::isdigit)) return std::nullopt;
    if (digits.size() > 1 && digits[0] == '0') return std::nullopt;
    return std::stoll(digits);
}

TensorFile to_tensor_file(const TrainingState& s) { return to_tensor_file(s, s.saved_at); }

std::vector<uint8_t> encode_checkpoint(const TrainingState& s, double now) {
    return encode_safetensors(to_tensor_file(s, now));  // the tensors' copy is freed before the write
}

TensorFile to_tensor_file(const TrainingState& s, double saved_at) {
    if (s.opt.mom_deferred)
        throw std::logic_error("to_tensor_file: the momentum slots are deferred (settle_momentum before a save)");
    TensorFile f;
    const size_t L = s.net.layers();
    for (size_t l = 0; l < L; ++l) {
        const Matrix& w = s.net.weights[l];
        f.tensors.push_back(make_f32(weight_name(l, L), {w.rows(), w.cols()}, w.data()));
    }
    for (size_t l = 0; l < L; ++l) {
        const Matrix& ms = s.opt.ms[l];
        f.tensors.push_back(make_f32(weight_name(l, L) + "/RMSProp", {ms.rows(), ms.cols()}, ms.data()));
    }
    for (size_t l = 0; l < L; ++l) {
        const Matrix& mom = s.opt.mom[l];
        f.tensors.push_back(make_f32(weight_name(l, L) + "/RMSProp_1", {mom.rows(), mom.cols()}, mom.data()));
    }
    f.tensors.push_back(make_i64_scalar("global_step", s.global_step));

    auto& md = f.metadata;
    md["format"] = kCheckpointFormat;
    md["format_version"] = std::to_string(kCheckpointFormatVersion);
    md["config"] = to_json(s.config);
    md["global_step"] = std::to_string(s.global_step);
    md["epoch"] = std::to_string(s.epoch());
    md["steps_per_epoch"] = std::to_string(s.steps_per_epoch);
    md["epoch_loss_sum"] = hexfloat(s.epoch_loss_sum);
    md["saved_at"] = hexfloat(saved_at);
    md["checksum_algorithm"] = "crc32";
    md["tensor_crc32"] = tensor_crc32_json(f.tensors);
    md["metadata_crc32"] = hex32(metadata_crc(md));
    return f;
}

TrainingState from_tensor_file(const TensorFile& f, const std::string& what) {
    const std::string& format = require_meta(f, "format", what);
    if (format != kCheckpointFormat)
        throw CheckpointError(what + ": metadata 'format' should be '" + kCheckpointFormat + "', found '" + excerpt(format) + "'");
    const std::string& version = require_meta(f, "format_version", what);
    if (version != std::to_string(kCheckpointFormatVersion))
        throw CheckpointError(what + ": unsupported format_version '" + excerpt(version) + "' (this program reads version " +
                              std::to_string(kCheckpointFormatVersion) + ")");
    const std::string& md_crc = require_meta(f, "metadata_crc32", what);
    if (md_crc != hex32(metadata_crc(f.metadata)))
        throw CheckpointError(what + ": metadata checksum mismatch: stored " + excerpt(md_crc) + ", computed " +
                              hex32(metadata_crc(f.metadata)));

    verify_tensor_crc32(f, what);

    TrainingState s;
    try {
        s.config = config_from_json(require_meta(f, "config", what));
    } catch (const ConfigError& e) {
        throw CheckpointError(what + ": metadata 'config': " + e.what());
    }

    // The network's shape comes from the weights: w_h [in, h1], w_h2 [h1, h2], ..., w_o [hn, classes].
    const size_t L = s.config.hidden.size() + 1;
    const Tensor& first = require(f, "w_h", what);
    if (first.shape.size() != 2) throw CheckpointError(what + ": tensor 'w_h' should be 2-D, found " + shape_text(first.shape));
    std::vector<int> sizes = {int(first.shape[0])};
    for (size_t l = 0; l < L; ++l) {
        const Tensor& t = require(f, weight_name(l, L), what);
        if (t.shape.size() != 2 || t.shape[0] != sizes.back())
            throw CheckpointError(what + ": tensor '" + excerpt(t.name) + "' should have " + std::to_string(sizes.back()) +
                                  " rows (the width below it), found shape " + shape_text(t.shape));
        sizes.push_back(int(t.shape[1]));
        if (l + 1 < L && sizes.back() != s.config.hidden[l])
            throw CheckpointError(what + ": tensor '" + excerpt(t.name) + "' has " + std::to_string(sizes.back()) +
                                  " columns but the stored configuration says hidden layer " + std::to_string(l + 1) +
                                  " has " + std::to_string(s.config.hidden[l]));
    }
    const size_t expected_tensors = 3 * L + 1;
    if (f.tensors.size() != expected_tensors)
        throw CheckpointError(what + ": expected " + std::to_string(expected_tensors) + " tensors for a " +
                              std::to_string(L) + "-layer network, found " + std::to_string(f.tensors.size()));
    s.net.sizes = sizes;
    s.opt.config = rmsprop_config(s.config);
    for (size_t l = 0; l < L; ++l) {
        const std::string name = weight_name(l, L);
        s.net.weights.push_back(read_matrix(f, name, sizes[l], sizes[l + 1], what));
        s.opt.ms.push_back(read_matrix(f, name + "/RMSProp", sizes[l], sizes[l + 1], what));
        s.opt.mom.push_back(read_matrix(f, name + "/RMSProp_1", sizes[l], sizes[l + 1], what));
    }
    const Tensor& gs = require(f, "global_step", what);
    if (gs.dtype != "I64" || !gs.shape.empty())
        throw CheckpointError(what + ": tensor 'global_step' should be an I64 scalar, found " + gs.dtype + " " +
                              shape_text(gs.shape));
    s.global_step = gs.i64_scalar();
    if (s.global_step < 0) throw CheckpointError(what + ": global_step is negative (" + std::to_string(s.global_step) + ")");
    s.steps_per_epoch = parse_int(require_meta(f, "steps_per_epoch", what), "steps_per_epoch", what);
    s.epoch_loss_sum = parse_double(require_meta(f, "epoch_loss_sum", what), "epoch_loss_sum", what);
    s.saved_at = parse_double(require_meta(f, "saved_at", what), "saved_at", what);
    return s;
}

std::string tensor_crc32_json(const std::vector<Tensor>& tensors) {
    nlohmann::ordered_json sums = nlohmann::ordered_json::object();
    for (const Tensor& t : tensors) sums[t.name] = hex32(crc32_of(t.bytes.data(), t.bytes.size()));
    return sums.dump();
}

void verify_tensor_crc32(const TensorFile& f, const std::string& what) {
    const std::string& text = require_meta(f, "tensor_crc32", what);
    if (json_depth(text) > kMaxJsonDepth)
        throw CheckpointError(what + ": metadata 'tensor_crc32' is JSON nested deeper than " +
                              std::to_string(kMaxJsonDepth) + " levels, expected an object of strings");
    nlohmann::json sums;
    try {
        sums = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw CheckpointError(what + ": metadata 'tensor_crc32' is not valid JSON: " + excerpt(e.what(), 200));
    }
    if (!sums.is_object() || sums.size() != f.tensors.size())
        throw CheckpointError(what + ": metadata 'tensor_crc32' should list the " + std::to_string(f.tensors.size()) +
                              " tensors of the file");
    for (const Tensor& t : f.tensors) {
        if (!sums.contains(t.name) || !sums[t.name].is_string())
            throw CheckpointError(what + ": no checksum for tensor '" + excerpt(t.name) + "'");
        const std::string stored = sums[t.name].get<std::string>();
        const std::string computed = hex32(crc32_of(t.bytes.data(), t.bytes.size()));
        if (stored != computed)
            throw CheckpointError(what + ": checksum mismatch in tensor '" + excerpt(t.name) + "': stored " + excerpt(stored) +
                                  ", computed " + computed + " (the data is damaged)");
    }
}

TensorFile read_tensor_file(const std::string& path) { return decode_safetensors(read_file(path), path); }

TrainingState read_checkpoint(const std::string& path) { return checkpoint_from_bytes(read_file(path), path); }

TrainingState checkpoint_from_bytes(const std::vector<uint8_t>& bytes, const std::string& path) {
    const TrainingState s = from_tensor_file(decode_safetensors(bytes, path), path);
    const auto step = step_from_file_name(fs::path(path).filename().string());
    if (step && *step != s.global_step)
        throw CheckpointError(path + ": the file name says step " + std::to_string(*step) + " but global_step is " +
                              std::to_string(s.global_step));
    return s;
}

}  // namespace mnist
