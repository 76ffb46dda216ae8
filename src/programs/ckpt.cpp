// ./ckpt: checkpoint tools. list DIR | inspect FILE [--tensor NAME] | verify FILE|DIR | diff A B |
// export FILE -o OUT [--vars MAP]
// Exit 0 on success (verify: every file valid; diff: every tensor byte-identical), 1 otherwise.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <optional>
#include <set>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/checkpoint/transfer.hpp"
#include "src/cli/onnx_export.hpp"
#include "src/text.hpp"

namespace {

using namespace mnist;
namespace fs = std::filesystem;

const char* const kUsage =
    "usage: ckpt list DIR             every checkpoint, newest first: step, epoch, time, size, validity\n"
    "       ckpt inspect FILE [--tensor NAME]   format, configuration, tensors with statistics\n"
    "       ckpt verify FILE|DIR      all checks of a restore; exit 0 only when valid\n"
    "       ckpt diff A B             per tensor: identical or the largest absolute difference;\n"
    "                                 exit 0 only when every tensor is byte-identical\n"
    "       ckpt export FILE -o OUT [--vars MAP] [--format safetensors|onnx]\n"
    "                                 a plain safetensors file with the tensors MAP chooses, renamed:\n"
    "                                 MAP is TARGET=SOURCE or NAME items, comma-separated, e.g.\n"
    "                                 'weights=w_h,w_o' (default: every weight, no optimizer slots);\n"
    "                                 --format onnx: the network of a training checkpoint as an ONNX\n"
    "                                 model (float32 [N, 784] pixels/255 in, softmax [N, 10] out)\n"
    "       ckpt --version | --help\n";

std::string time_text(double unix_seconds) {
    const std::time_t t = std::time_t(unix_seconds);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    return buf;
}

int cmd_list(const std::string& dir) {
    require_directory(dir, "checkpoint directory");
    std::string latest;
    const LatestSearch found = find_latest_checkpoint(dir);  // throws when dir is not a directory
    if (found.latest) latest = found.latest->file;
    for (size_t i = found.damaged.size(); i < found.warnings.size(); ++i) spdlog::warn("{}", found.warnings[i]);
    auto files = list_checkpoint_files(dir);
    std::printf("%-28s %10s %6s %-19s %10s  %s\n", "file", "step", "epoch", "written", "bytes", "status");
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
        const std::string path = (fs::path(dir) / it->second).string();
        try {
            // Read from one descriptor: a running trainer may delete the file at any moment.
            const std::optional<std::vector<uint8_t>> bytes = read_file_if_exists(path);
            if (!bytes) continue;  // deleted by the trainer's retention since the listing
            const size_t size = bytes->size();
            try {
                const TrainingState st = checkpoint_from_bytes(*bytes, path);
                std::printf("%-28s %10lld %6lld %-19s %10zu  valid%s\n", it->second.c_str(), (long long)st.global_step,
                            (long long)st.epoch(), time_text(st.saved_at).c_str(), size,
                            it->second == latest ? " (latest)" : "");
            } catch (const std::exception& e) {
                std::printf("%-28s %10lld %6s %-19s %10zu  INVALID: %s\n", it->second.c_str(), (long long)it->first, "-",
                            "-", size, e.what());
            }
        } catch (const CheckpointError& e) {
            std::printf("%-28s %10lld %6s %-19s %10s  INVALID: %s\n", it->second.c_str(), (long long)it->first, "-", "-",
                        "-", e.what());
        }
    }
    if (files.empty()) std::printf("(no checkpoints in '%s')\n", dir.c_str());
    return 0;
}

// The header of a file that is not a training checkpoint (an export, another program's file):
// its metadata and whether its tensor checksums match. Returns false when a checksum does not.
bool print_plain_header(const std::string& path, const TensorFile& f) {
    const auto meta = [&](const char* key) {
        auto it = f.metadata.find(key);
        return it == f.metadata.end() ? std::string("-") : it->second;
    };
    std::string checksums = "none stored (not checked)";
    bool ok = true;
    if (f.metadata.count("tensor_crc32")) {
        try {
            verify_tensor_crc32(f, path);
            checksums = "all " + std::to_string(f.tensors.size()) + " tensors match";
        } catch (const CheckpointError& e) {
            checksums = std::string("INVALID: ") + e.what();
            ok = false;
        }
    }
    std::printf("file            %s\nformat          %s version %s (not a training checkpoint)\n", path.c_str(),
                meta("format").c_str(), meta("format_version").c_str());
    if (f.metadata.count("source"))
        std::printf("source          %s (global_step %s), vars %s\n", meta("source").c_str(),
                    meta("source_global_step").c_str(), meta("vars").c_str());
    std::printf("checksums       %s\n\n", checksums.c_str());
    return ok;
}

int cmd_inspect(const std::string& path, const std::string& only) {
    const TensorFile f = read_tensor_file(path);
    bool ok = true;
    if (kind_of(f) == TensorFileKind::checkpoint) {
        const TrainingState st = read_checkpoint(path);  // verifies checksums and structure
        if (only.empty())
            std::printf("file            %s\nformat          %s version %s\nglobal_step     %lld (epoch %lld)\nsaved at        %s\n"
                        "checksums       all %zu tensors match\nconfiguration   %s\n\n",
                        path.c_str(), f.metadata.at("format").c_str(), f.metadata.at("format_version").c_str(),
                        (long long)st.global_step, (long long)st.epoch(), time_text(st.saved_at).c_str(),
                        f.tensors.size(), f.metadata.at("config").c_str());
    } else if (only.empty()) {
        ok = print_plain_header(path, f);
    } else if (f.metadata.count("tensor_crc32")) {
        verify_tensor_crc32(f, path);
    }
    if (only.empty())
        std::printf("%-16s %-5s %-12s %12s %12s %12s %12s\n", "tensor", "dtype", "shape", "min", "max", "mean", "std");
    bool found = only.empty();
    for (const Tensor& t : f.tensors) {
        if (!only.empty() && t.name != only) continue;
        found = true;
        std::vector<double> v;
        if (t.dtype == "F32") v.assign(t.f32(), t.f32() + t.elements());
        else v.push_back(double(t.i64_scalar()));
        if (!only.empty()) {
            std::printf("%s %s %s\n", t.name.c_str(), t.dtype.c_str(), shape_text(t.shape).c_str());
            for (size_t i = 0; i < v.size(); ++i) std::printf("%.9g%c", v[i], (i + 1) % 8 == 0 || i + 1 == v.size() ? '\n' : ' ');
            continue;
        }
        double lo = v[0], hi = v[0], sum = 0, sq = 0;
        for (double x : v) lo = std::min(lo, x), hi = std::max(hi, x), sum += x;
        const double mean = sum / double(v.size());
        for (double x : v) sq += (x - mean) * (x - mean);
        std::printf("%-16s %-5s %-12s %12.5g %12.5g %12.5g %12.5g\n", t.name.c_str(), t.dtype.c_str(),
                    shape_text(t.shape).c_str(), lo, hi, mean, std::sqrt(sq / double(v.size())));
    }
    if (!found) throw CheckpointError(path + ": no tensor named '" + only + "'");
    return ok ? 0 : 1;
}

int cmd_verify(const std::string& target) {
    const bool one_file = !fs::is_directory(target);
    const std::vector<std::string> files = one_file ? std::vector<std::string>{target} : checkpoint_paths(target);
    int bad = 0;
    for (const std::string& f : files) {
        try {
            if (one_file) {  // a single file may be an export
                const TensorFile tf = read_tensor_file(f);
                if (kind_of(tf) == TensorFileKind::exported) {
                    verify_export(tf, f);
                    std::printf("%s: valid (export of %zu tensors from %s)\n", f.c_str(), tf.tensors.size(),
                                tf.metadata.count("source") ? tf.metadata.at("source").c_str() : "?");
                    continue;
                }
            }
            const std::optional<std::vector<uint8_t>> bytes = read_file_if_exists(f);
            if (!bytes && !one_file) continue;  // deleted by a running trainer's retention since the listing
            const TrainingState st = bytes ? checkpoint_from_bytes(*bytes, f) : read_checkpoint(f);
            std::printf("%s: valid (global_step %lld)\n", f.c_str(), (long long)st.global_step);
        } catch (const std::exception& e) {
            std::printf("%s: INVALID: %s\n", f.c_str(), e.what());
            ++bad;
        }
    }
    return bad == 0 ? 0 : 1;
}

int cmd_diff(const std::string& a_path, const std::string& b_path) {
    const TensorFile a = read_tensor_file(a_path), b = read_tensor_file(b_path);
    int differing = 0;
    std::set<std::string> seen;
    for (const Tensor& ta : a.tensors) {
        seen.insert(ta.name);
        const Tensor* tb = b.find(ta.name);
        if (!tb) {
            std::printf("%-16s only in %s\n", ta.name.c_str(), a_path.c_str());
            ++differing;
        } else if (ta.dtype != tb->dtype || ta.shape != tb->shape) {
            std::printf("%-16s differs in type: %s %s vs %s %s\n", ta.name.c_str(), ta.dtype.c_str(),
                        shape_text(ta.shape).c_str(), tb->dtype.c_str(), shape_text(tb->shape).c_str());
            ++differing;
        } else if (ta.bytes == tb->bytes) {
            std::printf("%-16s identical\n", ta.name.c_str());
        } else {
            double worst = 0;
            if (ta.dtype == "F32")
                for (int64_t i = 0; i < ta.elements(); ++i)
                    worst = std::max(worst, std::abs(double(ta.f32()[i]) - double(tb->f32()[i])));
            else
                worst = std::abs(double(ta.i64_scalar() - tb->i64_scalar()));
            std::printf("%-16s differs: largest absolute difference %.9g\n", ta.name.c_str(), worst);
            ++differing;
        }
    }
    for (const Tensor& tb : b.tensors)
        if (!seen.count(tb.name)) {
            std::printf("%-16s only in %s\n", tb.name.c_str(), b_path.c_str());
            ++differing;
        }
    std::printf("%s\n", differing ? (std::to_string(differing) + " tensor(s) differ").c_str() : "all tensors identical");
    return differing ? 1 : 0;
}

// export FILE --format onnx -o OUT: the checkpoint's network as an ONNX model, written atomically.
int export_onnx(const std::string& in, const std::string& out, const std::string& vars) {
    if (!vars.empty()) throw ConfigError("ckpt export: --vars applies to safetensors exports, not to --format onnx");
    if (!onnx_available()) encode_onnx(TrainingState{}, in);  // throws: built without ONNX
    const TrainingState st = read_checkpoint(in);
    const fs::path out_path(out);
    write_file_atomic(out_path.has_parent_path() ? out_path.parent_path().string() : ".", out_path.filename().string(),
                      encode_onnx(st, in));
    std::printf("exported the %s network of %s (global_step %lld) to %s as ONNX (opset 13)\n",
                widths_text(st.net.sizes, "-").c_str(), in.c_str(), (long long)st.global_step, out.c_str());
    return 0;
}

// export FILE -o OUT [--vars MAP] [--format F]: the chosen tensors, renamed, in a plain safetensors
// file, or (--format onnx) the network as an ONNX model.
int cmd_export(const std::vector<std::string>& args) {
    std::string in, out, vars, format = "safetensors";
    for (size_t i = 1; i < args.size(); ++i) {
        const bool has_value = i + 1 < args.size();
        if ((args[i] == "-o" || args[i] == "--output") && has_value) out = args[++i];
        else if (args[i] == "--vars" && has_value) vars = args[++i];
        else if (args[i] == "--format" && has_value) format = args[++i];
        else if (in.empty() && !args[i].empty() && args[i][0] != '-') in = args[i];
        else throw ConfigError("ckpt export: unexpected argument '" + args[i] + "'\n" + kUsage);
    }
    if (in.empty() || out.empty() || fs::path(out).filename().empty()) throw ConfigError(std::string("ckpt export needs FILE and -o OUT\n") + kUsage);
    if (format == "onnx") return export_onnx(in, out, vars);
    if (format != "safetensors") throw ConfigError("ckpt export: --format expects safetensors or onnx, got '" + format + "'");
    const TensorFile from = read_transfer_source(in);
    VarMap map;
    if (vars.empty()) {
        for (const Tensor& t : from.tensors)
            if (t.dtype == "F32" && t.name.find('/') == std::string::npos) map.push_back({t.name, t.name});
        if (map.empty()) throw CheckpointError(in + ": no weights to export (name them with --vars)");
    } else {
        map = parse_var_map(vars, "vars");
    }
    const TensorFile exported = export_tensors(from, map, in);
    const fs::path out_path(out);
    const std::string dir = out_path.has_parent_path() ? out_path.parent_path().string() : ".";
    write_file_atomic(dir, out_path.filename().string(), encode_safetensors(exported));
    std::printf("exported %zu tensor(s) from %s to %s:\n", exported.tensors.size(), in.c_str(), out.c_str());
    for (size_t i = 0; i < map.size(); ++i)
        std::printf("  %-16s <- %-16s %s %s\n", map[i].target.c_str(), map[i].source.c_str(),
                    exported.tensors[i].dtype.c_str(), shape_text(exported.tensors[i].shape).c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string> args(argv + 1, argv + argc);
    try {
        if (args.empty() || args[0] == "--help" || args[0] == "-h") {
            std::fputs(kUsage, args.empty() ? stderr : stdout);
            return args.empty() ? 1 : 0;
        }
        if (args[0] == "--version") {
            std::printf("ckpt %s\n", MNIST_VERSION);
            return 0;
        }
        const std::string& cmd = args[0];
        if (cmd == "list" && args.size() == 2) return cmd_list(args[1]);
        if (cmd == "inspect" && args.size() == 2) return cmd_inspect(args[1], "");
        if (cmd == "inspect" && args.size() == 4 && args[2] == "--tensor") return cmd_inspect(args[1], args[3]);
        if (cmd == "verify" && args.size() == 2) return cmd_verify(args[1]);
        if (cmd == "diff" && args.size() == 3) return cmd_diff(args[1], args[2]);
        if (cmd == "export") return cmd_export(args);
        std::fprintf(stderr, "ckpt: unknown command or wrong arguments: '%s'\n%s", cmd.c_str(), kUsage);
        return 1;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
