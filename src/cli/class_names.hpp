// The names of the 10 classes in what the programs print: digits for MNIST, Fashion-MNIST's names.
#pragma once
#include <string>
#include <vector>

namespace mnist {

// "digits" ("0".."9"), "fashion" (Fashion-MNIST's "T-shirt/top", ..., "Ankle boot"), or "auto":
// fashion when data_dir contains "fashion" (any case), else digits.
std::vector<std::string> class_names(const std::string& kind, const std::string& data_dir);

}  // namespace mnist
