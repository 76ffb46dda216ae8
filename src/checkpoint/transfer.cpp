// var_list mappings, export of chosen tensors and warm start of a new run (see transfer.hpp).
#include "src/checkpoint/transfer.hpp"

#include <cstring>
#include <filesystem>
#include <set>

#include "src/text.hpp"

namespace mnist {
namespace {

std::vector<std::string> names_of(const TensorFile& f) {
    std::vector<std::string> out;
    for (const Tensor& t : f.tensors) out.push_back(t.name);
    return out;
}

// "name F32 [784, 625]" or "name absent", for one side of a mismatch.
std::string side(const std::string& name, const Tensor* t) {
    return name + (t ? " " + t->dtype + " " + shape_text(t->shape) : " absent");
}

std::string side(const std::string& name, const Matrix* m) {
    return name + (m ? " F32 " + shape_text({m->rows(), m->cols()}) : " absent");
}

// One target <- source copy of the warm start, checked.
struct Copy {
    Matrix* into;
    const Tensor* from;
};

}  // namespace

TensorFileKind kind_of(const TensorFile& f) {
    const auto format = f.metadata.find("format");
    if (format == f.metadata.end()) return TensorFileKind::other;
    if (format->second == kCheckpointFormat) return TensorFileKind::checkpoint;
    if (format->second == kExportFormat) return TensorFileKind::exported;
    return TensorFileKind::other;
}

TensorFileKind verify_tensor_file(const TensorFile& f, const std::string& what) {
    const TensorFileKind kind = kind_of(f);
    if (kind == TensorFileKind::checkpoint) from_tensor_file(f, what);
    else if (kind == TensorFileKind::exported) verify_export(f, what);
    else if (f.metadata.count("tensor_crc32")) verify_tensor_crc32(f, what);
    return kind;
}

TensorFile read_transfer_source(const std::string& path) {
    TensorFile f = read_tensor_file(path);
    verify_tensor_file(f, path);
    return f;
}

TensorFile export_tensors(const TensorFile& from, const VarMap& map, const std::string& source_path) {
    std::vector<std::string> missing;
    TensorFile out;
    for (const VarMapping& m : map) {
        if (m.target == "__metadata__")
            throw CheckpointError(source_path + ": cannot export under the name '__metadata__' (safetensors reserves it)");
        const Tensor* t = from.find(m.source);
        if (!t) {
            missing.push_back(m.source);
            continue;
        }
        Tensor copy = *t;
        copy.name = m.target;
        out.tensors.push_back(std::move(copy));
    }
    if (!missing.empty())
        throw CheckpointError(source_path + ": cannot export: no tensor named '" + join(missing, "', '") +
                              "' in the file (it holds " + join(names_of(from), ", ") + ")");
    auto& md = out.metadata;
    md["format"] = kExportFormat;
    md["format_version"] = std::to_string(kExportFormatVersion);
    md["source"] = std::filesystem::path(source_path).filename().string();
    md["vars"] = format_var_map(map);
    if (const Tensor* gs = from.find("global_step"); gs && gs->dtype == "I64" && gs->shape.empty())
        md["source_global_step"] = std::to_string(gs->i64_scalar());
    md["checksum_algorithm"] = "crc32";
    md["tensor_crc32"] = tensor_crc32_json(out.tensors);
    return out;
}

void verify_export(const TensorFile& f, const std::string& what) {
    const auto meta = [&](const char* key) {
        auto it = f.metadata.find(key);
        if (it == f.metadata.end()) throw CheckpointError(what + ": __metadata__ has no '" + key + "' entry");
        return it->second;
    };
    if (meta("format") != kExportFormat)
        throw CheckpointError(what + ": metadata 'format' should be '" + kExportFormat + "', found '" + meta("format") +
                              "'");
    if (meta("format_version") != std::to_string(kExportFormatVersion))
        throw CheckpointError(what + ": unsupported export format_version '" + meta("format_version") +
                              "' (this program reads version " + std::to_string(kExportFormatVersion) + ")");
    verify_tensor_crc32(f, what);
}

VarMap common_weights(const Mlp& net, const TensorFile& from) {
    VarMap out;
    for (size_t l = 0; l < net.layers(); ++l) {
        const std::string name = weight_name(l, net.layers());
        if (from.find(name)) out.push_back({name, name});
    }
    return out;
}

void warm_start(TrainingState& st, const TensorFile& from, const VarMap& map, bool slots, const std::string& what) {
    const size_t L = st.net.layers();
    std::vector<std::string> weights;
    for (size_t l = 0; l < L; ++l) weights.push_back(weight_name(l, L));

    std::vector<std::string> problems;
    std::vector<Copy> copies;
    // Checks one target <- source pair and queues the copy when both exist and agree.
    const auto pair = [&](const std::string& label, const std::string& target, Matrix* into,
                          const std::string& source) {
        const Tensor* t = from.find(source);
        const std::string both = "new model: " + side(target, into) + "; file: " + side(source, t);
        if (!into) {
            problems.push_back(label + ": the new model has no weight '" + target + "' (" + both +
                               "); its weights are " + join(weights, ", "));
        } else if (!t) {
            problems.push_back(label + ": the file has no tensor '" + source + "' (" + both + ")");
        } else if (t->dtype != "F32" || t->shape != std::vector<int64_t>{into->rows(), into->cols()}) {
            problems.push_back(label + ": shape mismatch (" + both + ")");
        } else {
            copies.push_back({into, t});
        }
    };
    for (const VarMapping& m : map) {
        const std::string label = m.target == m.source ? m.target : m.target + "=" + m.source;
        size_t l = 0;
        while (l < L && weights[l] != m.target) ++l;
        pair(label, m.target, l < L ? &st.net.weights[l] : nullptr, m.source);
        if (slots && l < L && from.find(m.source)) {
            pair(label, m.target + "/RMSProp", &st.opt.ms[l], m.source + "/RMSProp");
            pair(label, m.target + "/RMSProp_1", &st.opt.mom[l], m.source + "/RMSProp_1");
        }
    }
    if (!problems.empty())
        throw CheckpointError("cannot initialise the new model from '" + what + "':\n  " + join(problems, "\n  "));
    for (const Copy& c : copies) std::memcpy(c.into->data(), c.from->bytes.data(), c.from->bytes.size());
}

}  // namespace mnist
