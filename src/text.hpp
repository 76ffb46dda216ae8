// Small text helpers shared by every layer, so that a value is printed one way everywhere
// (a shape is always "[784, 625]", a double always in its shortest exact form).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mnist {

// items joined by sep: join({"a", "b"}, ", ") == "a, b".
std::string join(const std::vector<std::string>& items, const std::string& sep);

// A tensor shape: "[784, 625]"; "[]" for a scalar.
std::string shape_text(const std::vector<int64_t>& shape);

// Layer widths as the --hidden option writes them, "625,625", or with another separator
// (a network as "784-625-625-10").
std::string widths_text(const std::vector<int>& widths, const std::string& sep = ",");

// s without leading and trailing spaces and tabs.
std::string trimmed(const std::string& s);

// Shortest decimal text that reads back as exactly x; plain notation when that is as short
// (3600, not 3.6e+03; timestamps as 1764441000.25). Used wherever a double is written as text.
std::string exact_decimal(double x);

// A short, printable excerpt of untrusted text for an error message: at most `max` bytes of it,
// with '"', '\\' and every byte outside printable ASCII escaped (\n, \xNN), and "... (N bytes)" when cut.
// A damaged file can hold megabytes or terminal escapes where a name should be; messages quote this.
std::string excerpt(const std::string& text, size_t max = 64);

// The deepest nesting of JSON arrays and objects in text (brackets inside strings do not count),
// counting no further than limit + 1. JSON readers refuse text deeper than kMaxJsonDepth before
// parsing it: the parsed value would be printed, compared and freed by recursion, and a megabyte of
// '[' would make a value of a million levels.
constexpr int kMaxJsonDepth = 64;
int json_depth(const char* begin, const char* end, int limit = kMaxJsonDepth);
inline int json_depth(const std::string& text, int limit = kMaxJsonDepth) {
    return json_depth(text.data(), text.data() + text.size(), limit);
}

}  // namespace mnist
