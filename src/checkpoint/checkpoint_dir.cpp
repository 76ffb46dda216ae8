// The checkpoint directory: restore, save, retention, the latest checkpoint (see checkpoint_dir.hpp).
#include "src/checkpoint/checkpoint_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "src/checkpoint/durable_io.hpp"
#include "src/checkpoint/io_seam.hpp"

namespace fs = std::filesystem;

namespace mnist {
namespace {

const char* const kStateFile = "checkpoint";

// Moves a damaged checkpoint out of the way without changing its bytes; returns the new name.
std::string move_aside(const std::string& dir, const std::string& name) {
    std::string target = name + ".damaged";
    for (int i = 1; fs::exists(fs::path(dir) / target); ++i) target = name + ".damaged." + std::to_string(i);
    std::error_code ec;
    fs::rename(fs::path(dir) / name, fs::path(dir) / target, ec);
    return ec ? name + " (could not be renamed: " + ec.message() + ")" : target;
}

}  // namespace

std::vector<std::string> checkpoint_paths(const std::string& dir) {
    std::vector<std::string> out;
    for (const auto& [step, name] : list_checkpoint_files(dir)) out.push_back((fs::path(dir) / name).string());
    if (out.empty()) throw CheckpointError("no checkpoint (model-<step>.safetensors) in '" + dir + "'");
    return out;
}

Saver::Saver(std::string dir, int64_t max_to_keep, double keep_every_n_hours, FaultPoint fault)
    : dir_(std::move(dir)), max_to_keep_(max_to_keep), keep_every_n_hours_(keep_every_n_hours), fault_(fault) {
    std::error_code ec;
    if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
        throw CheckpointError("checkpoint directory '" + dir_ + "' exists but is not a directory");
    fs::create_directories(dir_, ec);
    if (ec) throw CheckpointError("cannot create checkpoint directory '" + dir_ + "': " + ec.message());
    if (::access(dir_.c_str(), W_OK | X_OK) != 0)
        throw CheckpointError("checkpoint directory '" + dir_ + "' is not writable: " + std::strerror(errno));
}

namespace {

// Temporary files of a save that was killed: never a checkpoint, safe to drop (the caller holds the lock).
void remove_temporaries(const std::string& dir, std::vector<std::string>& warnings) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos) {
            fs::remove(entry.path(), ec);
            warnings.push_back("removed '" + name + "', the temporary file of an interrupted save");
        }
    }
}

// The state file, if present and readable (nullopt otherwise, with a warning when it is unreadable).
std::optional<CheckpointState> read_state_file(const std::string& path, std::vector<std::string>& warnings) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::nullopt;
    try {
        const std::vector<uint8_t> bytes = read_file(path);
        return parse_checkpoint_state(std::string(bytes.begin(), bytes.end()), path);
    } catch (const CheckpointError& e) {
        warnings.push_back(std::string(e.what()) + "; rebuilding the state file from the files present");
        return std::nullopt;
    }
}

// The retention list as it should be: what `recorded` lists and still exists, plus files it does
// not know (earlier runs, a lost state file) with their modification time, oldest first; preserved
// files stay out of it. `latest` becomes model_checkpoint_path.
CheckpointState rebuilt_state(const std::string& dir, const CheckpointState& recorded, const std::string& latest) {
    std::map<std::string, double> listed;
    for (size_t i = 0; i < recorded.all_model_checkpoint_paths.size(); ++i)
        listed[recorded.all_model_checkpoint_paths[i]] =
            i < recorded.all_model_checkpoint_timestamps.size() ? recorded.all_model_checkpoint_timestamps[i] : 0.0;
    const std::set<std::string> preserved(recorded.preserved_paths.begin(), recorded.preserved_paths.end());
    CheckpointState rebuilt;
    rebuilt.last_preserved_timestamp = recorded.last_preserved_timestamp;
    for (const auto& [step, name] : list_checkpoint_files(dir)) {
        if (preserved.count(name)) {
            rebuilt.preserved_paths.push_back(name);
            continue;
        }
        auto it = listed.find(name);
        double ts = it != listed.end() ? it->second : 0.0;
        if (it == listed.end()) {
            struct stat st {};
            if (::stat((fs::path(dir) / name).c_str(), &st) == 0) ts = double(st.st_mtime);
        }
        rebuilt.all_model_checkpoint_paths.push_back(name);
        rebuilt.all_model_checkpoint_timestamps.push_back(ts);
    }
    rebuilt.model_checkpoint_path = latest;
    return rebuilt;
}

}  // namespace

RestoreResult Saver::restore_latest() {
    RestoreResult result;
    remove_temporaries(dir_, result.warnings);
    const std::string state_path = (fs::path(dir_) / kStateFile).string();
    const std::optional<CheckpointState> recorded = read_state_file(state_path, result.warnings);

    // The one rule (latest_checkpoint.hpp); this process holds the lock, so one look is enough.
    LatestSearch found = find_latest_checkpoint(dir_, 1);
    for (size_t i = 0; i < found.warnings.size(); ++i) {
        if (i < found.damaged.size())
            result.warnings.push_back(found.warnings[i] + "; moved aside to '" + move_aside(dir_, found.damaged[i]) + "'");
        else if (recorded)  // an unreadable state file was reported above
            result.warnings.push_back(found.warnings[i]);
    }
    if (found.latest) {
        result.state = std::move(found.latest->state);
        result.file = found.latest->file;
    }

    state_ = rebuilt_state(dir_, recorded.value_or(CheckpointState{}), result.file);
    const bool same = recorded && state_.all_model_checkpoint_paths == recorded->all_model_checkpoint_paths &&
                      state_.model_checkpoint_path == recorded->model_checkpoint_path;
    if (!same && result.state) {
        const std::string text = format_checkpoint_state(state_);
        try {
            write_file_atomic(dir_, kStateFile, std::vector<uint8_t>(text.begin(), text.end()));
            result.warnings.push_back("rewrote the state file '" + state_path + "' to list the " +
                                      std::to_string(state_.all_model_checkpoint_paths.size()) +
                                      " checkpoint(s) present");
        } catch (const CheckpointError& e) {
            result.warnings.push_back(std::string(e.what()) + "; the state file stays as it was until the next save");
        }
    }
    std::error_code ec;
    if (!result.state && fs::exists(state_path, ec) && (recorded || !found.damaged.empty()))
        result.warnings.push_back("no valid checkpoint in '" + dir_ + "'; starting from scratch");
    return result;
}

std::string Saver::save(const TrainingState& s, double now) {
    return save_encoded(s.global_step, encode_checkpoint(s, now), now);
}

std::string Saver::save_encoded(int64_t step, const std::vector<uint8_t>& bytes, double now) {
    const std::string name = checkpoint_file_name(step);
    retention_warnings_.clear();
    write_file_atomic(dir_, name, bytes, fault_);
    if (fault_ == FaultPoint::after_rename || fault_ == FaultPoint::before_state_file) die_for_test(fault_);

    RetentionResult r = apply_retention(state_, name, now, max_to_keep_, keep_every_n_hours_);
    const std::string text = format_checkpoint_state(r.state);
    write_file_atomic(dir_, kStateFile, std::vector<uint8_t>(text.begin(), text.end()), FaultPoint::none);
    state_ = r.state;
    // The new checkpoint and the state file naming it are durable: the save has landed. Deleting
    // what retention drops can only fail to free space; the file stays, listed again at the next restore.
    bool deleted = false;
    for (const std::string& old : r.to_delete) {
        if (old == name) continue;
        if (io::unlink((fs::path(dir_) / old).string()) == 0) deleted = true;
        else if (errno != ENOENT)
            retention_warnings_.push_back("retention could not delete '" + old + "': " + std::strerror(errno) +
                                          "; it stays on disk");
    }
    try {
        if (deleted) fsync_dir(dir_);
    } catch (const CheckpointError& e) {
        retention_warnings_.push_back(std::string(e.what()) + " after retention's deletions; a crash may bring the "
                                      "deleted files back (they are whole)");
    }
    return name;
}

}  // namespace mnist
