// libFuzzer target: the configuration JSON stored in every checkpoint's metadata. Parsing any text
// gives a TrainConfig or a ConfigError; a parsed configuration written back and read again is the same.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "src/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    mnist::TrainConfig c;
    try {
        c = mnist::config_from_json(text);
    } catch (const mnist::ConfigError&) {
        return 0;
    }
    std::string json;
    try {
        json = mnist::to_json(c);
    } catch (const std::exception&) {
        return 0;  // a string that is not UTF-8 cannot be written as JSON; the writer says so
    }
    if (mnist::to_json(mnist::config_from_json(json)) != json) std::abort();
    return 0;
}
