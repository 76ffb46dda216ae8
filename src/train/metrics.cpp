// The metrics file (see metrics.hpp).
#include "src/train/metrics.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "src/text.hpp"

namespace mnist {
namespace {

// One line of metrics.jsonl, or a discarded value when it is not JSON or nested deeper than any
// record (a damaged line is skipped, never recursed into).
nlohmann::json parse_record(const std::string& line) {
    if (json_depth(line) > kMaxJsonDepth) return nlohmann::json(nlohmann::json::value_t::discarded);
    return nlohmann::json::parse(line, nullptr, false);
}

}  // namespace

void append_metrics(const std::string& path, const nlohmann::ordered_json& record) {
    const std::string line = record.dump() + "\n";
    std::FILE* f = std::fopen(path.c_str(), "ab");
    if (f == nullptr) throw MetricsError("cannot open the metrics file '" + path + "' for appending");
    const bool ok = std::fwrite(line.data(), 1, line.size(), f) == line.size() && std::fflush(f) == 0;
    if (std::fclose(f) != 0 || !ok) throw MetricsError("cannot write the metrics file '" + path + "'");
}

int64_t keep_metrics_until(const std::string& path, int64_t step) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return 0;
    std::string kept, line;
    int64_t dropped = 0;
    while (std::getline(in, line)) {
        const nlohmann::json j = parse_record(line);
        if (!j.is_discarded() && j.is_object() && j.contains("step") && j["step"].is_number_integer() &&
            j["step"].get<int64_t>() <= step)
            kept += line + "\n";
        else
            ++dropped;
    }
    in.close();
    if (dropped == 0) return 0;
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << kept;
        out.flush();
        if (!out) throw MetricsError("cannot write '" + tmp + "'");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw MetricsError("cannot rename '" + tmp + "' to '" + path + "': " + ec.message());
    return dropped;
}

std::vector<nlohmann::json> read_metrics(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return parse_metrics(text.str());
}

std::vector<nlohmann::json> parse_metrics(const std::string& text) {
    std::vector<nlohmann::json> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        nlohmann::json j = parse_record(line);
        if (!j.is_discarded() && j.is_object()) out.push_back(std::move(j));
    }
    return out;
}


}  // namespace mnist
