// ./predict: classifies PNG or PGM pictures of digits (any size, dark on light or light on dark)
// with the latest (or a chosen) checkpoint, after the MNIST preprocessing of src/cli/preprocess.
// A file that cannot be read or has no ink gets a message naming it; the others are still
// classified; the exit status is 1 if any failed.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <spdlog/spdlog.h>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/cli/class_names.hpp"
#include "src/cli/options.hpp"
#include "src/cli/preprocess.hpp"

namespace {

using namespace mnist;
namespace fs = std::filesystem;

// "--save_preprocessed DIR": DIR/<file name without extension>.png (a numbered name if taken).
std::string preprocessed_path(const std::string& dir, const std::string& file, size_t index) {
    const std::string stem = fs::path(file).stem().string();
    fs::path out = fs::path(dir) / (stem + ".png");
    if (fs::exists(out)) out = fs::path(dir) / (stem + "-" + std::to_string(index) + ".png");
    return out.string();
}

void print_text(const std::string& file, const Prediction& p, const std::vector<std::string>& names, int64_t top) {
    std::vector<int> order(p.probabilities.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p.probabilities[a] > p.probabilities[b]; });
    const auto name = [&](int c) { return size_t(c) < names.size() ? names[c] : std::to_string(c); };
    std::printf("%s: %d (%s)  ", file.c_str(), p.label, name(p.label).c_str());
    for (int64_t k = 0; k < top && size_t(k) < order.size(); ++k)
        std::printf("%s%s %.4f", k ? ", " : "", name(order[k]).c_str(), p.probabilities[order[k]]);
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const PredictOptions o = parse_predict_options(argc, argv);
        if (o.exit_now) return o.exit_code;
        const std::string ckpt = o.checkpoint.empty() ? latest_checkpoint(o.ckpt_dir) : o.checkpoint;
        const TrainingState st = read_checkpoint(ckpt);
        const std::vector<std::string> names = class_names(o.class_names, st.config.data_dir);
        if (!o.save_preprocessed.empty()) fs::create_directories(o.save_preprocessed);
        nlohmann::ordered_json all = nlohmann::ordered_json::array();
        int failed = 0;
        for (size_t i = 0; i < o.images.size(); ++i) {
            const std::string& file = o.images[i];
            try {
                const Preprocessed pre = mnist_preprocess(read_image(file), file);
                const Prediction p = classify(st.net, pre.pixels, file);
                if (!o.save_preprocessed.empty())
                    write_grey_png(preprocessed_path(o.save_preprocessed, file, i), kMnistSide, kMnistSide, pre.pixels.data());
                if (!o.json) print_text(file, p, names, o.top);
                nlohmann::ordered_json j;
                j["file"] = file;
                j["class"] = p.label;
                j["class_name"] = size_t(p.label) < names.size() ? names[size_t(p.label)] : std::to_string(p.label);
                j["probabilities"] = p.probabilities;
                j["inverted"] = pre.inverted;
                all.push_back(j);
            } catch (const ImageError& e) {
                ++failed;
                spdlog::error("{}", e.what());
                all.push_back({{"file", file}, {"error", e.what()}});
            } catch (const PngError& e) {
                ++failed;
                spdlog::error("{}", e.what());
                all.push_back({{"file", file}, {"error", e.what()}});
            }
        }
        if (o.json) std::cout << all.dump() << "\n";
        if (failed) spdlog::error("{} of {} file(s) could not be classified", failed, o.images.size());
        return failed ? 1 : 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
