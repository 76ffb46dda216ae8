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

}  // namespace mnist
