// The training curve on disk: ckpt_dir/metrics.jsonl, one JSON object per line, appended at each
// epoch end ("event":"epoch"), each save ("save"), each start ("start") and each resume ("resume").
// A resume first drops the records written after the restored checkpoint's step (a run killed after
// an epoch end but before its save wrote them; the resumed run writes them again), so no step appears
// twice for one event in the curve, then records itself.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "src/errors.hpp"

namespace mnist {

// The file's name inside the checkpoint directory.
constexpr const char* kMetricsFile = "metrics.jsonl";

// Appends `record` as one line and flushes it to the kernel (a crash of the process loses nothing
// written; a torn last line from a power loss is dropped by the next keep_metrics_until).
// throws MetricsError naming the file when it cannot be opened or written.
void append_metrics(const std::string& path, const nlohmann::ordered_json& record);

// Keeps only the records whose "step" is at most `step` (lines that do not parse are dropped too),
// rewriting the file through a temporary file and a rename. A missing file is left missing.
// Returns the number of lines dropped. throws MetricsError naming the file on an I/O error.
int64_t keep_metrics_until(const std::string& path, int64_t step);

// Every record of the file, in order (lines that do not parse are skipped). Missing file: none.
std::vector<nlohmann::json> read_metrics(const std::string& path);
// The records of metrics.jsonl's text, as read_metrics (lines that do not parse, or that nest deeper
// than kMaxJsonDepth, are skipped).
std::vector<nlohmann::json> parse_metrics(const std::string& text);


}  // namespace mnist
