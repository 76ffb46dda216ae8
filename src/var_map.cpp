// Parsing and printing of TARGET=SOURCE name mappings (see var_map.hpp).
#include "src/var_map.hpp"

#include <set>

#include "src/errors.hpp"
#include "src/text.hpp"

namespace mnist {

VarMap parse_var_map(const std::string& text, const std::string& option) {
    const auto fail = [&](const std::string& why) {
        throw ConfigError("--" + option + " '" + text + "': " + why +
                          " (expected TARGET=SOURCE or NAME items separated by commas)");
    };
    if (trimmed(text).empty()) fail("no names");
    VarMap out;
    std::set<std::string> targets;
    size_t begin = 0;
    while (true) {
        const size_t comma = text.find(',', begin);
        const std::string item = text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin);
        const size_t eq = item.find('=');
        if (eq != std::string::npos && item.find('=', eq + 1) != std::string::npos)
            fail("item '" + item + "' has more than one '='");
        VarMapping m;
        m.target = trimmed(item.substr(0, eq));
        m.source = eq == std::string::npos ? m.target : trimmed(item.substr(eq + 1));
        if (m.target.empty() || m.source.empty())
            fail("item " + std::to_string(out.size() + 1) + " ('" + item + "') has an empty name");
        if (!targets.insert(m.target).second) fail("target '" + m.target + "' is named twice");
        out.push_back(m);
        if (comma == std::string::npos) break;
        begin = comma + 1;
    }
    return out;
}

std::string format_var_map(const VarMap& map) {
    std::vector<std::string> items;
    for (const VarMapping& m : map) items.push_back(m.target == m.source ? m.target : m.target + "=" + m.source);
    return join(items, ",");
}

}  // namespace mnist
