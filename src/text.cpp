// Small text helpers (see text.hpp).
#include "src/text.hpp"

#include <algorithm>
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

namespace {

// Bit equality: == would call two denormals equal (both zero) once the trainer has set DAZ for its
// threads (numerics/gemm), and a denormal setting (epsilon 5e-324) would be written inexactly.
bool reads_back(const char* text, double x) {
    const double y = std::strtod(text, nullptr);
    return std::memcmp(&x, &y, sizeof x) == 0;
}

}  // namespace

std::string exact_decimal(double x) {
    char buf[64];
    for (int precision = 1; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, x);
        if (reads_back(buf, x)) break;
    }
    std::string best = buf;
    if (std::isfinite(x) && std::fabs(x) < 1e16) {
        for (int decimals = 0; decimals <= 17; ++decimals) {
            std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
            if (reads_back(buf, x)) {
                if (std::strlen(buf) <= best.size()) best = buf;
                break;
            }
        }
    }
    return best;
}

std::string excerpt(const std::string& text, size_t max) {
    std::string out;
    const size_t n = std::min(text.size(), max);
    for (size_t i = 0; i < n; ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c >= 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    if (n < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
    return out;
}

int json_depth(const char* begin, const char* end, int limit) {
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (const char* p = begin; p != end; ++p) {
        if (in_string) {
            if (*p == '\\') {
                if (++p == end) break;
            } else if (*p == '"') {
                in_string = false;
            }
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '[' || *p == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit) break;
        } else if (*p == ']' || *p == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace mnist
