// Class names (see class_names.hpp).
#include "src/cli/class_names.hpp"

#include <algorithm>
#include <cctype>

namespace mnist {

std::vector<std::string> class_names(const std::string& kind, const std::string& data_dir) {
    std::string lower = data_dir;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
    if (kind == "fashion" || (kind == "auto" && lower.find("fashion") != std::string::npos))
        return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    return {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
}

}  // namespace mnist
