// Small text helpers (see text.hpp).
#include "src/text.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace mnist {

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
    return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::vector<std::string> dims;
    for (int64_t d : shape) dims.push_back(std::to_string(d));
    return "[" + join(dims, ", ") + "]";
}

std::string widths_text(const std::vector<int>& widths, const std::string& sep) {
    std::vector<std::string> items;
    for (int w : widths) items.push_back(std::to_string(w));
    return join(items, sep);
}

std::string trimmed(const std::string& s) {
    const size_t begin = s.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

std::string exact_decimal(double x) {
    char buf[64];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, x);
        if (std::strtod(buf, nullptr) == x) break;
    }
    std::string best = buf;
    if (std::isfinite(x) && std::fabs(x) < 1e16) {
        for (int decimals = 0; decimals <= 17; ++decimals) {
            std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
            if (std::strtod(buf, nullptr) == x) {
                if (std::strlen(buf) <= best.size()) best = buf;
                break;
            }
        }
    }
    return best;
}

}  // namespace mnist
