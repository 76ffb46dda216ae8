// libFuzzer target: the TARGET=SOURCE mapping parser (--init_map, `ckpt export --vars`). Parsing
// any text gives a mapping or a ConfigError; a parsed mapping formatted and parsed again is the same.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/errors.hpp"
#include "src/var_map.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    mnist::VarMap m;
    try {
        m = mnist::parse_var_map(text, "init_map");
    } catch (const mnist::ConfigError&) {
        return 0;
    }
    if (m.empty()) std::abort();
    const std::string formatted = mnist::format_var_map(m);
    mnist::VarMap again;
    try {
        again = mnist::parse_var_map(formatted, "init_map");
    } catch (const mnist::ConfigError&) {
        std::abort();
    }
    if (again.size() != m.size()) std::abort();
    for (size_t i = 0; i < m.size(); ++i)
        if (again[i].target != m[i].target || again[i].source != m[i].source) std::abort();
    return 0;
}
