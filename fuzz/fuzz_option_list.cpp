// libFuzzer target: the option-list parsers: --hidden's width list and the boolean options, and a
// whole ./train command line (NUL-separated arguments) through the option parser. Any text gives a
// value or a ConfigError; an accepted width list is every width in [1, 1000000], and written back
// (widths_text) it parses to the same list.
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "src/cli/options.hpp"
#include "src/text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool quiet = [] { std::cout.setstate(std::ios::badbit); return true; }();  // --help prints
    (void)quiet;
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const std::vector<int> w = mnist::parse_int_list(text, "hidden");
        if (w.empty()) std::abort();
        for (int v : w)
            if (v < 1 || v > 1000000) std::abort();
        if (mnist::parse_int_list(mnist::widths_text(w), "hidden") != w) std::abort();
    } catch (const mnist::ConfigError&) {
    }
    try {
        mnist::parse_bool(text, "shuffle");
    } catch (const mnist::ConfigError&) {
    }
    // A command line: "train" then the NUL-separated pieces of the input, at most 16 of them.
    std::vector<std::string> args = {"train"};
    size_t start = 0;
    while (start <= text.size() && args.size() < 17) {
        const size_t end = std::min(text.find('\0', start), text.size());
        args.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    try {
        const mnist::TrainOptions o = mnist::parse_train_options(int(argv.size()), argv.data());
        (void)o;
    } catch (const mnist::ConfigError&) {
    }
    return 0;
}
