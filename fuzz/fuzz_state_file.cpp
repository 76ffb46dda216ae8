// libFuzzer target: the `checkpoint` state file. Parsing any text gives a CheckpointState or a
// CheckpointError; a parsed state formatted and parsed again is the same state (parse -> format ->
// parse); the retention rule on it keeps the newest path, deletes only listed paths, and keeps at
// most max_to_keep entries (both from the first bytes).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "src/checkpoint/state_file.hpp"

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

bool same(const mnist::CheckpointState& a, const mnist::CheckpointState& b) {
    if (a.model_checkpoint_path != b.model_checkpoint_path ||
        a.all_model_checkpoint_paths != b.all_model_checkpoint_paths || a.preserved_paths != b.preserved_paths ||
        !same_bits(a.last_preserved_timestamp, b.last_preserved_timestamp) ||
        a.all_model_checkpoint_timestamps.size() != b.all_model_checkpoint_timestamps.size())
        return false;
    for (size_t i = 0; i < a.all_model_checkpoint_timestamps.size(); ++i)
        if (!same_bits(a.all_model_checkpoint_timestamps[i], b.all_model_checkpoint_timestamps[i])) return false;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const int64_t max_to_keep = data[0] % 8;       // 0 keeps all
    const double hours = double(data[1] % 4) / 2;  // 0 preserves nothing
    const std::string text(reinterpret_cast<const char*>(data) + 2, size - 2);
    mnist::CheckpointState s;
    try {
        s = mnist::parse_checkpoint_state(text, "fuzz/checkpoint");
    } catch (const mnist::CheckpointError&) {
        return 0;
    }
    const std::string formatted = mnist::format_checkpoint_state(s);
    mnist::CheckpointState again;
    try {
        again = mnist::parse_checkpoint_state(formatted, "fuzz/checkpoint (formatted)");
    } catch (const mnist::CheckpointError&) {
        std::abort();  // what the parser accepted must format into something it reads back
    }
    if (!same(s, again)) std::abort();
    if (mnist::format_checkpoint_state(again) != formatted) std::abort();

    const double now = s.all_model_checkpoint_timestamps.empty() ? 1e9 : s.all_model_checkpoint_timestamps.back() + 60;
    try {
        const mnist::RetentionResult r = mnist::apply_retention(s, "model-new.safetensors", now, max_to_keep, hours);
        if (r.state.model_checkpoint_path != "model-new.safetensors") std::abort();
        if (r.state.all_model_checkpoint_paths.empty() ||
            r.state.all_model_checkpoint_paths.back() != "model-new.safetensors")
            std::abort();
        if (max_to_keep > 0 && r.state.all_model_checkpoint_paths.size() > size_t(max_to_keep)) std::abort();
        for (const std::string& d : r.to_delete) {
            if (d == "model-new.safetensors") std::abort();
            if (std::find(s.all_model_checkpoint_paths.begin(), s.all_model_checkpoint_paths.end(), d) ==
                s.all_model_checkpoint_paths.end())
                std::abort();
        }
    } catch (const mnist::CheckpointError&) {
    }
    return 0;
}
