// Command-line options of ./train and ./eval, parsed into their configurations. Kept in the
// library (not in the programs) so that tests can check every rejection.
#pragma once
#include <string>
#include <vector>

#include "src/config.hpp"

namespace mnist {

struct TrainOptions {
    TrainConfig config;
    bool quiet = false;             // only warnings, errors and the per-epoch line
    std::string progress = "auto";  // auto (terminal: live line, else plain lines), plain, off
    bool exit_now = false;  // --help or --version was printed
    int exit_code = 0;
};
// throws ConfigError for an unknown flag, a stray argument, a malformed or invalid value.
TrainOptions parse_train_options(int argc, const char* const* argv);

struct EvalOptions {
    std::string ckpt_dir = "ckpt_dir";
    std::string checkpoint;  // a file; overrides ckpt_dir
    std::string data_dir = "data/mnist";
    bool json = false;
    bool all = false;        // every kept checkpoint, oldest first
    int threads = 0;
    std::string errors_png;           // write a grid of misclassified test images here ("": no)
    int64_t max_errors = 64;          // at most this many in the grid
    std::string class_names = "auto";  // digits, fashion, or auto (fashion when data_dir names it)
    bool exit_now = false;
    int exit_code = 0;
};
EvalOptions parse_eval_options(int argc, const char* const* argv);

struct PredictOptions {
    std::string ckpt_dir = "ckpt_dir";
    std::string checkpoint;            // a file; overrides ckpt_dir
    bool json = false;
    int64_t top = 3;                   // probabilities printed per image (text output)
    std::string save_preprocessed;     // write the 28x28 images classified into this directory ("": no)
    std::string class_names = "auto";  // digits, fashion, or auto (from the checkpoint's data_dir)
    std::vector<std::string> images;
    bool exit_now = false;
    int exit_code = 0;
};
// throws ConfigError for an unknown flag, a malformed value, or no image.
PredictOptions parse_predict_options(int argc, const char* const* argv);

struct BoardOptions {
    std::string ckpt_dir = "ckpt_dir";
    std::string data_dir = "data/mnist";
    std::string host = "127.0.0.1";
    int port = 8080;
    bool exit_now = false;
    int exit_code = 0;
};
// throws ConfigError for an unknown flag, a stray argument or a port outside 0..65535.
BoardOptions parse_board_options(int argc, const char* const* argv);

// "625,625" -> {625, 625}; throws ConfigError naming `option` and the text.
std::vector<int> parse_int_list(const std::string& text, const std::string& option);
// "true"/"false"/"1"/"0"/"yes"/"no"; throws ConfigError naming `option`.
bool parse_bool(const std::string& text, const std::string& option);

}  // namespace mnist
