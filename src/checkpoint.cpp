// Checkpoint files, durable writes, restore with verification, retention and the directory lock
// (see checkpoint.hpp for the guarantees).
#include "src/checkpoint.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

namespace fs = std::filesystem;

namespace mnist {
namespace {

const char* const kStateFile = "checkpoint";

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

std::string errno_text() { return std::strerror(errno); }

[[noreturn]] void die_for_test(FaultPoint p) {
    std::fprintf(stderr, "MNIST_FAULT: killing the trainer at fault point %d\n", int(p));
    std::fflush(stderr);
    kill(getpid(), SIGKILL);
    _exit(137);
}

void fsync_dir(const std::string& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) throw CheckpointError("cannot open directory '" + dir + "' to sync it: " + errno_text());
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) throw CheckpointError("cannot sync directory '" + dir + "': " + std::strerror(err));
}

std::vector<uint8_t> read_all(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CheckpointError(path + ": cannot open: " + errno_text());
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw CheckpointError(path + ": read error: " + errno_text());
    return bytes;
}

const Tensor& require(const TensorFile& f, const std::string& name, const std::string& what) {
    const Tensor* t = f.find(name);
    if (!t) throw CheckpointError(what + ": tensor '" + name + "' is missing");
    return *t;
}

const std::string& require_meta(const TensorFile& f, const std::string& key, const std::string& what) {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end()) throw CheckpointError(what + ": __metadata__ has no '" + key + "' entry");
    return it->second;
}

std::string shape_text(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
    return out + "]";
}

Matrix read_matrix(const TensorFile& f, const std::string& name, int64_t rows, int64_t cols, const std::string& what) {
    const Tensor& t = require(f, name, what);
    const std::vector<int64_t> want = {rows, cols};
    if (t.dtype != "F32" || t.shape != want)
        throw CheckpointError(what + ": tensor '" + name + "' should be F32 " + shape_text(want) + ", found " +
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
    throw CheckpointError(what + ": metadata '" + field + "' should be an integer, found '" + text + "'");
}

double parse_double(const std::string& text, const std::string& field, const std::string& what) {
    char* end = nullptr;
    const double v = std::strtod(text.c_str(), &end);
    if (text.empty() || *end != '\0')
        throw CheckpointError(what + ": metadata '" + field + "' should be a number, found '" + text + "'");
    return v;
}

// Moves a damaged checkpoint out of the way without changing its bytes; returns the new name.
std::string move_aside(const std::string& dir, const std::string& name) {
    std::string target = name + ".damaged";
    for (int i = 1; fs::exists(fs::path(dir) / target); ++i) target = name + ".damaged." + std::to_string(i);
    std::error_code ec;
    fs::rename(fs::path(dir) / name, fs::path(dir) / target, ec);
    return ec ? name + " (could not be renamed: " + ec.message() + ")" : target;
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
        throw CheckpointError(what + ": metadata 'format' should be '" + kCheckpointFormat + "', found '" + format + "'");
    const std::string& version = require_meta(f, "format_version", what);
    if (version != std::to_string(kCheckpointFormatVersion))
        throw CheckpointError(what + ": unsupported format_version '" + version + "' (this program reads version " +
                              std::to_string(kCheckpointFormatVersion) + ")");
    const std::string& md_crc = require_meta(f, "metadata_crc32", what);
    if (md_crc != hex32(metadata_crc(f.metadata)))
        throw CheckpointError(what + ": metadata checksum mismatch: stored " + md_crc + ", computed " +
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
            throw CheckpointError(what + ": tensor '" + t.name + "' should have " + std::to_string(sizes.back()) +
                                  " rows (the width below it), found shape " + shape_text(t.shape));
        sizes.push_back(int(t.shape[1]));
        if (l + 1 < L && sizes.back() != s.config.hidden[l])
            throw CheckpointError(what + ": tensor '" + t.name + "' has " + std::to_string(sizes.back()) +
                                  " columns but the stored configuration says hidden layer " + std::to_string(l + 1) +
                                  " has " + std::to_string(s.config.hidden[l]));
    }
    const size_t expected_tensors = 3 * L + 1;
    if (f.tensors.size() != expected_tensors)
        throw CheckpointError(what + ": expected " + std::to_string(expected_tensors) + " tensors for a " +
                              std::to_string(L) + "-layer network, found " + std::to_string(f.tensors.size()));
    s.net.sizes = sizes;
    s.opt.config = {float(s.config.learning_rate), float(s.config.decay), float(s.config.momentum),
                    float(s.config.epsilon)};
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
    nlohmann::json sums;
    try {
        sums = nlohmann::json::parse(require_meta(f, "tensor_crc32", what));
    } catch (const nlohmann::json::exception& e) {
        throw CheckpointError(what + ": metadata 'tensor_crc32' is not valid JSON: " + e.what());
    }
    if (!sums.is_object() || sums.size() != f.tensors.size())
        throw CheckpointError(what + ": metadata 'tensor_crc32' should list the " + std::to_string(f.tensors.size()) +
                              " tensors of the file");
    for (const Tensor& t : f.tensors) {
        if (!sums.contains(t.name) || !sums[t.name].is_string())
            throw CheckpointError(what + ": no checksum for tensor '" + t.name + "'");
        const std::string stored = sums[t.name].get<std::string>();
        const std::string computed = hex32(crc32_of(t.bytes.data(), t.bytes.size()));
        if (stored != computed)
            throw CheckpointError(what + ": checksum mismatch in tensor '" + t.name + "': stored " + stored +
                                  ", computed " + computed + " (the data is damaged)");
    }
}

TensorFile read_tensor_file(const std::string& path) { return decode_safetensors(read_all(path), path); }

TrainingState read_checkpoint(const std::string& path) {
    const TrainingState s = from_tensor_file(decode_safetensors(read_all(path), path), path);
    const auto step = step_from_file_name(fs::path(path).filename().string());
    if (step && *step != s.global_step)
        throw CheckpointError(path + ": the file name says step " + std::to_string(*step) + " but global_step is " +
                              std::to_string(s.global_step));
    return s;
}

void write_file_atomic(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes,
                       FaultPoint fault) {
    const std::string final_path = (fs::path(dir) / name).string();
    const std::string tmp = (fs::path(dir) / ("." + name + ".tmp-" + std::to_string(getpid()))).string();
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw CheckpointError("cannot create '" + tmp + "': " + errno_text());
    auto fail = [&](const std::string& step, int err) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw CheckpointError("cannot write '" + final_path + "' (" + step + " of its temporary file failed: " +
                              std::strerror(err) + "); earlier checkpoints are untouched");
    };
    // With the write_error fault the disk "fills up" halfway through the file.
    const size_t limit = fault == FaultPoint::write_error ? bytes.size() / 2 : bytes.size();
    size_t done = 0;
    while (done < bytes.size()) {
        if (done >= limit) fail("write", ENOSPC);
        const ssize_t n = ::write(fd, bytes.data() + done, limit - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("write", n < 0 ? errno : EIO);
        done += size_t(n);
    }
    if (::fsync(fd) != 0) fail("fsync", errno);
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw CheckpointError("cannot write '" + final_path + "' (close failed: " + std::strerror(err) + ")");
    }
    if (fault == FaultPoint::after_temp_write || fault == FaultPoint::before_rename) die_for_test(fault);
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
        const int err = errno;
        ::unlink(tmp.c_str());
        throw CheckpointError("cannot rename '" + tmp + "' to '" + final_path + "': " + std::strerror(err));
    }
    fsync_dir(dir);
}

FaultPoint fault_point_from_string(const std::string& s) {
    static const std::map<std::string, FaultPoint> names = {
        {"", FaultPoint::none},
        {"after_temp_write", FaultPoint::after_temp_write},
        {"before_rename", FaultPoint::before_rename},
        {"after_rename", FaultPoint::after_rename},
        {"before_state_file", FaultPoint::before_state_file},
        {"write_error", FaultPoint::write_error}};
    auto it = names.find(s);
    if (it == names.end())
        throw ConfigError("MNIST_FAULT: unknown fault point '" + s +
                          "' (expected after_temp_write, before_rename, after_rename, before_state_file or write_error)");
    return it->second;
}

std::vector<std::pair<int64_t, std::string>> list_checkpoint_files(const std::string& dir) {
    std::vector<std::pair<int64_t, std::string>> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (auto step = step_from_file_name(name); step && entry.is_regular_file()) out.emplace_back(*step, name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string latest_checkpoint(const std::string& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw CheckpointError("checkpoint directory '" + dir + "' does not exist");
    const std::string state_path = (fs::path(dir) / kStateFile).string();
    if (fs::exists(state_path, ec)) {
        try {
            const std::vector<uint8_t> bytes = read_all(state_path);
            const CheckpointState st = parse_checkpoint_state(std::string(bytes.begin(), bytes.end()), state_path);
            const fs::path named = fs::path(dir) / st.model_checkpoint_path;
            if (fs::exists(named, ec)) return named.string();
        } catch (const CheckpointError&) {
            // fall back to the files themselves
        }
    }
    const auto files = list_checkpoint_files(dir);
    if (files.empty()) throw CheckpointError("no checkpoint (model-<step>.safetensors) in '" + dir + "'");
    return (fs::path(dir) / files.back().second).string();
}

Saver::Saver(std::string dir, int64_t max_to_keep, double keep_every_n_hours, FaultPoint fault)
    : dir_(std::move(dir)), max_to_keep_(max_to_keep), keep_every_n_hours_(keep_every_n_hours), fault_(fault) {
    std::error_code ec;
    if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
        throw CheckpointError("checkpoint directory '" + dir_ + "' exists but is not a directory");
    fs::create_directories(dir_, ec);
    if (ec) throw CheckpointError("cannot create checkpoint directory '" + dir_ + "': " + ec.message());
    if (::access(dir_.c_str(), W_OK | X_OK) != 0)
        throw CheckpointError("checkpoint directory '" + dir_ + "' is not writable: " + errno_text());
}

RestoreResult Saver::restore_latest() {
    RestoreResult result;
    std::error_code ec;
    // Temporary files of a save that was killed: never a checkpoint, safe to drop (we hold the lock).
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos) {
            fs::remove(entry.path(), ec);
            result.warnings.push_back("removed '" + name + "', the temporary file of an interrupted save");
        }
    }

    // The state file, if present and readable; otherwise rebuilt below.
    CheckpointState recorded;
    bool state_ok = false;
    const std::string state_path = (fs::path(dir_) / kStateFile).string();
    if (fs::exists(state_path, ec)) {
        try {
            const std::vector<uint8_t> bytes = read_all(state_path);
            recorded = parse_checkpoint_state(std::string(bytes.begin(), bytes.end()), state_path);
            state_ok = true;
        } catch (const CheckpointError& e) {
            result.warnings.push_back(std::string(e.what()) + "; rebuilding the state file from the files present");
        }
    }

    // Newest valid checkpoint by step; damaged ones are moved aside.
    auto files = list_checkpoint_files(dir_);
    std::set<std::string> damaged;
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
        const std::string path = (fs::path(dir_) / it->second).string();
        try {
            result.state = read_checkpoint(path);
            result.file = it->second;
            break;
        } catch (const CheckpointError& e) {
            const std::string moved = move_aside(dir_, it->second);
            damaged.insert(it->second);
            result.warnings.push_back(std::string(e.what()) + "; moved aside to '" + moved + "'");
        }
    }

    // The retention list: what the state file lists and still exists, plus files it does not know
    // (earlier runs, a lost state file), oldest first; preserved files stay out of it.
    std::map<std::string, double> listed;
    for (size_t i = 0; i < recorded.all_model_checkpoint_paths.size(); ++i)
        listed[recorded.all_model_checkpoint_paths[i]] =
            i < recorded.all_model_checkpoint_timestamps.size() ? recorded.all_model_checkpoint_timestamps[i] : 0.0;
    const std::set<std::string> preserved(recorded.preserved_paths.begin(), recorded.preserved_paths.end());
    CheckpointState rebuilt;
    rebuilt.last_preserved_timestamp = recorded.last_preserved_timestamp;
    for (const auto& [step, name] : list_checkpoint_files(dir_)) {
        if (preserved.count(name)) {
            rebuilt.preserved_paths.push_back(name);
            continue;
        }
        auto it = listed.find(name);
        double ts = it != listed.end() ? it->second : 0.0;
        if (it == listed.end()) {
            struct stat st {};
            if (::stat((fs::path(dir_) / name).c_str(), &st) == 0) ts = double(st.st_mtime);
        }
        rebuilt.all_model_checkpoint_paths.push_back(name);
        rebuilt.all_model_checkpoint_timestamps.push_back(ts);
    }
    if (result.state) rebuilt.model_checkpoint_path = result.file;
    const bool same = state_ok && rebuilt.all_model_checkpoint_paths == recorded.all_model_checkpoint_paths &&
                      rebuilt.model_checkpoint_path == recorded.model_checkpoint_path;
    state_ = rebuilt;
    if (!same && result.state) {
        write_file_atomic(dir_, kStateFile, [&] {
            const std::string text = format_checkpoint_state(state_);
            return std::vector<uint8_t>(text.begin(), text.end());
        }());
        result.warnings.push_back("rewrote the state file '" + state_path + "' to list the " +
                                  std::to_string(state_.all_model_checkpoint_paths.size()) + " checkpoint(s) present");
    }
    if (!result.state && fs::exists(state_path, ec) && (state_ok || !damaged.empty()))
        result.warnings.push_back("no valid checkpoint in '" + dir_ + "'; starting from scratch");
    return result;
}

std::string Saver::save(const TrainingState& s, double now) {
    return save_encoded(s.global_step, encode_checkpoint(s, now), now);
}

std::string Saver::save_encoded(int64_t step, const std::vector<uint8_t>& bytes, double now) {
    const std::string name = checkpoint_file_name(step);
    write_file_atomic(dir_, name, bytes, fault_);
    if (fault_ == FaultPoint::after_rename || fault_ == FaultPoint::before_state_file) die_for_test(fault_);

    RetentionResult r = apply_retention(state_, name, now, max_to_keep_, keep_every_n_hours_);
    const std::string text = format_checkpoint_state(r.state);
    write_file_atomic(dir_, kStateFile, std::vector<uint8_t>(text.begin(), text.end()), FaultPoint::none);
    state_ = r.state;
    std::error_code ec;
    for (const std::string& old : r.to_delete)
        if (old != name) fs::remove(fs::path(dir_) / old, ec);
    if (!r.to_delete.empty()) fsync_dir(dir_);
    return name;
}

BackgroundSaver::~BackgroundSaver() {
    if (worker_.joinable()) worker_.join();
}

void BackgroundSaver::start(const TrainingState& s, double now) {
    if (worker_.joinable()) worker_.join();
    outcome_ = Outcome{};
    in_flight_ = true;
    const auto started = std::chrono::steady_clock::now();
    try {
        bytes_ = encode_checkpoint(s, now);
    } catch (const std::exception& e) {  // CheckpointError from the encoder, bad_alloc: a failed save
        outcome_.error = e.what();
        return;
    }
    worker_ = std::thread([this, step = s.global_step, now, started] {
        try {
            outcome_.file = saver_.save_encoded(step, bytes_, now);
        } catch (const std::exception& e) {  // CheckpointError; bad_alloc and the like count as failures too
            outcome_.error = e.what();
        }
        std::vector<uint8_t>().swap(bytes_);  // 10 MB for this model: not kept until the next save
        outcome_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    });
}

std::optional<BackgroundSaver::Outcome> BackgroundSaver::wait() {
    if (worker_.joinable()) worker_.join();
    if (!in_flight_) return std::nullopt;
    in_flight_ = false;
    return outcome_;
}

DirectoryLock::DirectoryLock(const std::string& dir) {
    const std::string path = (fs::path(dir) / ".lock").string();
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw CheckpointError("cannot open lock file '" + path + "': " + errno_text());
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
        char buf[32] = {0};
        const ssize_t n = ::pread(fd_, buf, sizeof buf - 1, 0);
        std::string holder = n > 0 ? std::string(buf, size_t(n)) : "unknown";
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
        ::close(fd_);
        fd_ = -1;
        throw CheckpointError("checkpoint directory '" + dir + "' is in use by another trainer (pid " + holder +
                              "); wait for it to finish or stop it first");
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != ssize_t(pid.size())) {
        // The lock itself holds; the pid is only for the message of a second trainer.
    }
}

DirectoryLock::~DirectoryLock() {
    if (fd_ >= 0) ::close(fd_);
}

}  // namespace mnist
