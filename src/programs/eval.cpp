// ./eval: test accuracy, loss, per-class accuracy and confusion matrix of the latest (or a chosen)
// checkpoint, or of every kept checkpoint with --all; --json prints the same as JSON; --errors
// draws the misclassified test images into a PNG.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <utility>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/cli/class_names.hpp"
#include "src/model/evaluate.hpp"
#include "src/numerics/gemm.hpp"
#include "src/cli/options.hpp"
#include "src/cli/png_grid.hpp"

namespace {

using namespace mnist;

nlohmann::ordered_json to_json(const std::string& file, const TrainingState& st, const EvalResult& r, double secs,
                               const std::vector<std::string>& names) {
    nlohmann::ordered_json j;
    j["checkpoint"] = file;
    j["global_step"] = st.global_step;
    j["epoch"] = st.epoch();
    j["images"] = r.count;
    j["accuracy"] = r.accuracy;
    j["loss"] = r.loss;
    j["per_class_accuracy"] = r.per_class_accuracy;
    j["confusion_matrix"] = r.confusion;
    j["eval_seconds"] = secs;
    j["images_per_s"] = secs > 0 ? double(r.count) / secs : 0.0;
    j["class_names"] = names;
    return j;
}

void print_text(const std::string& file, const TrainingState& st, const EvalResult& r, double secs,
                const std::vector<std::string>& names) {
    const auto name = [&](size_t c) { return c < names.size() ? names[c].c_str() : ""; };
    int w = 0;
    for (size_t c = 0; c < r.confusion.size(); ++c) w = std::max(w, int(std::strlen(name(c))));
    std::printf("checkpoint   %s\nglobal_step  %lld (epoch %lld)\nimages       %lld\naccuracy     %.4f\nloss         %.4f\n",
                file.c_str(), (long long)st.global_step, (long long)st.epoch(), (long long)r.count, r.accuracy, r.loss);
    std::printf("evaluated in %.3f s (%.0f images/s)\n", secs, secs > 0 ? double(r.count) / secs : 0.0);
    std::printf("\nper-class accuracy\n");
    for (size_t c = 0; c < r.per_class_accuracy.size(); ++c)
        std::printf("  %zu  %-*s  %.4f\n", c, w, name(c), r.per_class_accuracy[c]);
    std::printf("\nconfusion matrix (rows: true class, columns: predicted)\n      %*s", w + 2, "");
    for (size_t c = 0; c < r.confusion.size(); ++c) std::printf("%6zu", c);
    std::printf("\n");
    for (size_t t = 0; t < r.confusion.size(); ++t) {
        std::printf("  %2zu  %-*s  ", t, w, name(t));
        for (int64_t v : r.confusion[t]) std::printf("%6lld", (long long)v);
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const EvalOptions o = parse_eval_options(argc, argv);
        if (o.exit_now) return o.exit_code;
        set_compute_threads(o.threads);
        // Each checkpoint is read (from one descriptor) as soon as it is chosen: a trainer saving
        // into the directory may delete it a moment later (latest_checkpoint.hpp).
        std::vector<std::pair<std::string, TrainingState>> chosen;
        if (o.all) {
            for (const std::string& file : checkpoint_paths(o.ckpt_dir))
                if (std::optional<std::vector<uint8_t>> bytes = read_file_if_exists(file))
                    chosen.emplace_back(file, checkpoint_from_bytes(*bytes, file));
        } else if (o.checkpoint.empty()) {
            std::vector<std::string> warnings;
            LatestCheckpoint latest = read_latest_checkpoint(o.ckpt_dir, warnings);
            for (const std::string& w : warnings)  // on stderr with --json: stdout stays one JSON document
                if (o.json) std::fprintf(stderr, "[warning] %s\n", w.c_str());
                else spdlog::warn("{}", w);
            chosen.emplace_back(latest.path, std::move(latest.state));
        } else {
            chosen.emplace_back(o.checkpoint, read_checkpoint(o.checkpoint));
        }
        const Dataset test = load_mnist_test(o.data_dir);
        const std::vector<std::string> names = class_names(o.class_names, o.data_dir);
        nlohmann::ordered_json all = nlohmann::ordered_json::array();
        for (const auto& [file, st] : chosen) {
            if (const std::string why = input_mismatch(st.net, test, "the images in '" + o.data_dir + "'"); !why.empty())
                throw CheckpointError(file + ": " + why);
            EvalWorkspace ws = make_eval_workspace(st.net);
            const auto t0 = std::chrono::steady_clock::now();
            const EvalResult r = evaluate(st.net, test, ws);
            const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            if (!o.errors_png.empty()) {
                write_png(o.errors_png, labelled_grid(test, r.errors, r.error_predictions, size_t(o.max_errors)));
                if (!o.json) spdlog::info("wrote {} of {} misclassified test images (true>predicted) to {}",
                             std::min<size_t>(r.errors.size(), size_t(o.max_errors)), r.errors.size(), o.errors_png);
            }
            if (o.all && o.json) all.push_back(to_json(file, st, r, secs, names));
            else if (o.all) std::printf("%s  global_step %lld  accuracy %.4f  loss %.4f\n", file.c_str(),
                                        (long long)st.global_step, r.accuracy, r.loss);
            else if (o.json) std::cout << to_json(file, st, r, secs, names).dump() << "\n";
            else print_text(file, st, r, secs, names);
        }
        if (o.all && o.json) std::cout << all.dump() << "\n";
        return 0;
    } catch (const std::exception& e) {
        spdlog::error("{}", e.what());
        return 1;
    }
}
