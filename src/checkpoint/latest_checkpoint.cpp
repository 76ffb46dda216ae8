// The one rule for "the latest checkpoint" (see latest_checkpoint.hpp).
#include "src/checkpoint/latest_checkpoint.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "src/checkpoint/durable_io.hpp"
#include "src/checkpoint/state_file.hpp"

namespace fs = std::filesystem;

namespace mnist {
namespace {

std::function<void(const std::string&)> g_hook;

// One look at the directory: the newest file that opens and verifies. `vanished` when a listed
// file was gone at its open (the directory changed under us: look again), unless `last` is set.
struct Scan {
    std::optional<LatestCheckpoint> latest;
    std::vector<std::string> warnings, damaged;
    bool vanished = false;
};

Scan scan(const std::string& dir, bool last) {
    Scan s;
    const auto files = list_checkpoint_files(dir);
    for (auto it = files.rbegin(); it != files.rend(); ++it) {
        const std::string path = (fs::path(dir) / it->second).string();
        if (g_hook) g_hook(path);
        try {
            const std::optional<std::vector<uint8_t>> bytes = read_file_if_exists(path);
            if (!bytes) {
                if (last) continue;
                s.vanished = true;
                return s;
            }
            s.latest = LatestCheckpoint{it->second, path, checkpoint_from_bytes(*bytes, path)};
            return s;
        } catch (const CheckpointError& e) {
            s.damaged.push_back(it->second);
            s.warnings.push_back(e.what());
        }
    }
    return s;
}

// What the state file says against the choice: empty when it agrees (or is absent), else the
// warning. `settled` is false when it names another local checkpoint: a save may be under way.
struct StateCheck {
    std::string warning;
    bool settled = true;
    std::string named;  // what the state file named ("" when absent or unreadable)
};

StateCheck check_state_file(const std::string& dir, const Scan& s) {
    const std::optional<LatestCheckpoint>& chosen = s.latest;
    const std::string state_path = (fs::path(dir) / "checkpoint").string();
    const std::string instead = chosen ? "; using '" + chosen->file + "', the newest valid checkpoint in '" + dir +
                                             "', instead"
                                       : "; there is no valid checkpoint in '" + dir + "'";
    std::string named;
    try {
        const std::optional<std::vector<uint8_t>> bytes = read_file_if_exists(state_path);
        if (!bytes) return {};
        named = parse_checkpoint_state(std::string(bytes->begin(), bytes->end()), state_path).model_checkpoint_path;
    } catch (const CheckpointError& e) {
        return {std::string(e.what()) + instead, true, ""};
    }
    if (chosen && named == chosen->file) return {"", true, named};
    const auto step = step_from_file_name(named);
    if (!step || fs::path(named).has_parent_path())
        return {"the state file '" + state_path + "' names '" + named + "', which is not a checkpoint file in '" + dir +
                    "'" + instead,
                true, named};
    std::error_code ec;
    const bool exists = fs::exists(fs::path(dir) / named, ec);
    const bool damaged = std::find(s.damaged.begin(), s.damaged.end(), named) != s.damaged.end();
    // A newer file than the one chosen that exists and was not found damaged: the trainer saved
    // again after the listing. Look again; what was chosen was the newest when it was chosen.
    if (exists && !damaged && chosen && *step > chosen->state.global_step) return {"", false, named};
    const std::string what = !exists ? "which does not exist"
                             : damaged || !chosen ? "which is not a valid checkpoint"
                                                  : "but a newer valid checkpoint exists";
    return {"the state file '" + state_path + "' names '" + named + "', " + what + instead, damaged, named};
}

}  // namespace

std::vector<std::pair<int64_t, std::string>> list_checkpoint_files(const std::string& dir) {
    std::vector<std::pair<int64_t, std::string>> out;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        std::error_code type_ec;  // a file deleted since the listing is simply left out
        if (auto step = step_from_file_name(name); step && entry.is_regular_file(type_ec)) out.emplace_back(*step, name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

LatestSearch find_latest_checkpoint(const std::string& dir, int rounds) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw CheckpointError("checkpoint directory '" + dir + "' does not exist");
    rounds = std::max(rounds, 1);
    std::optional<std::string> named_before;  // what the state file named in the round before
    for (int round = 1;; ++round) {
        const bool last = round >= rounds;
        Scan s = scan(dir, last);
        if (s.vanished) continue;
        const StateCheck check = check_state_file(dir, s);
        if (!check.settled && !last) {
            named_before = check.named;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the trainer is between two renames
            continue;
        }
        // Still unsettled in the last round, but the state file changed since the round before: a
        // trainer is saving faster than this reader reads (with --max_to_keep 1 the file it names may
        // already be gone). What was chosen was the newest valid file when chosen: no warning.
        const bool live = !check.settled && named_before && *named_before != check.named;
        LatestSearch out{std::move(s.latest), std::move(s.warnings), std::move(s.damaged)};
        if (!check.warning.empty() && !live) out.warnings.push_back(check.warning);
        return out;
    }
}

LatestCheckpoint read_latest_checkpoint(const std::string& dir, std::vector<std::string>& warnings) {
    LatestSearch found = find_latest_checkpoint(dir);
    warnings.insert(warnings.end(), found.warnings.begin(), found.warnings.end());
    if (found.latest) return std::move(*found.latest);
    std::string damaged;
    for (const std::string& name : found.damaged) damaged += (damaged.empty() ? "" : ", ") + name;
    if (damaged.empty()) throw CheckpointError("no checkpoint (model-<step>.safetensors) in '" + dir + "'");
    throw CheckpointError("no valid checkpoint (model-<step>.safetensors) in '" + dir + "' (damaged: " + damaged + ")");
}

std::string latest_checkpoint(const std::string& dir) {
    std::vector<std::string> ignored;
    return read_latest_checkpoint(dir, ignored).path;
}

void set_latest_checkpoint_hook(std::function<void(const std::string& path)> hook) { g_hook = std::move(hook); }

}  // namespace mnist
