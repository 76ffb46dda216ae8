// libFuzzer target: the metrics.jsonl reader. Any text gives the list of its well-formed records
// (lines that do not parse are skipped); every record returned is a JSON object.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/train/metrics.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    for (const nlohmann::json& j : mnist::parse_metrics(text)) {
        if (!j.is_object()) std::abort();
        (void)j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    return 0;
}
