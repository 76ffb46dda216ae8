// cxxopts-based parsing of ./train and ./eval options (see options.hpp).
#include "src/cli/options.hpp"

#include <cxxopts.hpp>
#include <algorithm>
#include <iostream>
#include <sstream>
#include <type_traits>

#include "src/text.hpp"

namespace mnist {
namespace {

template <class T>
std::string text(const T& v) {
    std::ostringstream s;
    s << v;
    return s.str();
}

// Parses with cxxopts, turning its exceptions and stray arguments into ConfigError.
cxxopts::ParseResult parse_or_throw(cxxopts::Options& o, int argc, const char* const* argv) {
    try {
        auto r = o.parse(argc, argv);
        if (!r.unmatched().empty())
            throw ConfigError("unexpected argument '" + r.unmatched().front() + "' (see --help)");
        return r;
    } catch (const cxxopts::exceptions::exception& e) {
        throw ConfigError(std::string(e.what()) + " (see --help)");
    }
}

// Numbers are taken as text and converted here, so that a malformed value is reported with its option.
template <class T>
T get(const cxxopts::ParseResult& r, const std::string& name) {
    const std::string s = r[name].as<std::string>();
    if constexpr (std::is_same_v<T, std::string>) {
        return s;
    } else {
        std::istringstream in(s);
        T v{};
        const bool negative_unsigned = std::is_unsigned_v<T> && s.find('-') != std::string::npos;
        if (s.empty() || negative_unsigned || !(in >> v) || !in.eof())
            throw ConfigError("--" + name + " expects " + (std::is_floating_point_v<T> ? "a number" : "an integer") +
                              ", got '" + s + "'");
        return v;
    }
}

}  // namespace

std::vector<int> parse_int_list(const std::string& s, const std::string& option) {
    if (s.empty()) throw ConfigError("--" + option + " expects at least one width, got ''");
    std::vector<int> out;
    size_t start = 0;
    while (start <= s.size()) {  // "625," has an empty last item: refused like any other empty item
        const size_t comma = std::min(s.find(',', start), s.size());
        const std::string item = s.substr(start, comma - start);
        start = comma + 1;
        size_t used = 0;
        long v = 0;
        try {
            v = std::stol(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || v < 1 || v > 1000000)
            throw ConfigError("--" + option + " expects a comma-separated list of widths from 1 to 1000000, got '" +
                              s + "'");
        out.push_back(int(v));
    }
    return out;
}

bool parse_bool(const std::string& s, const std::string& option) {
    if (s == "true" || s == "1" || s == "yes") return true;
    if (s == "false" || s == "0" || s == "no") return false;
    throw ConfigError("--" + option + " expects true or false, got '" + s + "'");
}

// The configuration the parsed options give (not yet validated).
TrainConfig read_train_config(const cxxopts::ParseResult& r) {
    TrainConfig c;
    c.data_dir = get<std::string>(r, "data_dir");
    c.ckpt_dir = get<std::string>(r, "ckpt_dir");
    c.hidden = parse_int_list(get<std::string>(r, "hidden"), "hidden");
    c.keep_prob_input = get<double>(r, "keep_prob_input");
    c.keep_prob_hidden = get<double>(r, "keep_prob_hidden");
    c.learning_rate = get<double>(r, "learning_rate");
    c.decay = get<double>(r, "decay");
    c.momentum = get<double>(r, "momentum");
    c.epsilon = get<double>(r, "epsilon");
    c.batch_size = get<int64_t>(r, "batch_size");
    c.epochs = get<int64_t>(r, "epochs");
    c.seed = get<uint64_t>(r, "seed");
    c.shuffle = parse_bool(get<std::string>(r, "shuffle"), "shuffle");
    c.validation_size = get<int64_t>(r, "validation_size");
    c.max_to_keep = get<int64_t>(r, "max_to_keep");
    c.keep_checkpoint_every_n_hours = get<double>(r, "keep_checkpoint_every_n_hours");
    c.save_every_steps = get<int64_t>(r, "save_every_steps");
    c.save_every_secs = get<double>(r, "save_every_secs");
    c.threads = get<int>(r, "threads");
    c.init_from = get<std::string>(r, "init_from");
    c.init_map = get<std::string>(r, "init_map");
    c.init_optimizer = r.count("init_optimizer") > 0;
    c.allow_other_data = r.count("allow_other_data") > 0;
    return c;
}

// Every option of ./train with its help text and default (the defaults of TrainConfig).
void add_train_options(cxxopts::Options& o) {
    const TrainConfig d;
    o.add_options()
        ("data_dir", "directory with the four MNIST IDX files (raw or .gz)", cxxopts::value<std::string>()->default_value(d.data_dir))
        ("ckpt_dir", "checkpoint directory (created if missing; resumed from if it holds checkpoints)", cxxopts::value<std::string>()->default_value(d.ckpt_dir))
        ("hidden", "hidden layer widths, comma-separated", cxxopts::value<std::string>()->default_value(widths_text(d.hidden)))
        ("keep_prob_input", "dropout keep probability of the input pixels, in (0,1]", cxxopts::value<std::string>()->default_value(text(d.keep_prob_input)))
        ("keep_prob_hidden", "dropout keep probability of hidden units, in (0,1]", cxxopts::value<std::string>()->default_value(text(d.keep_prob_hidden)))
        ("learning_rate", "RMSProp learning rate", cxxopts::value<std::string>()->default_value(text(d.learning_rate)))
        ("decay", "RMSProp decay (rho)", cxxopts::value<std::string>()->default_value(text(d.decay)))
        ("momentum", "RMSProp momentum", cxxopts::value<std::string>()->default_value(text(d.momentum)))
        ("epsilon", "RMSProp epsilon (inside the square root)", cxxopts::value<std::string>()->default_value(text(d.epsilon)))
        ("batch_size", "images per step; the remainder of an epoch is dropped", cxxopts::value<std::string>()->default_value(text(d.batch_size)))
        ("epochs", "train until this many epochs are done (counting resumed ones)", cxxopts::value<std::string>()->default_value(text(d.epochs)))
        ("seed", "seed of initial weights, epoch order and dropout masks", cxxopts::value<std::string>()->default_value(text(d.seed)))
        ("shuffle", "reshuffle the training set every epoch (false: file order)", cxxopts::value<std::string>()->default_value("true"))
        ("validation_size", "first N training images held out for validation", cxxopts::value<std::string>()->default_value(text(d.validation_size)))
        ("max_to_keep", "newest checkpoints kept (0 keeps all)", cxxopts::value<std::string>()->default_value(text(d.max_to_keep)))
        ("keep_checkpoint_every_n_hours", "also keep one checkpoint per N hours forever", cxxopts::value<std::string>()->default_value(text(d.keep_checkpoint_every_n_hours)))
        ("save_every_steps", "also save every N steps inside an epoch (0: off)", cxxopts::value<std::string>()->default_value(text(d.save_every_steps)))
        ("save_every_secs", "also save every S seconds inside an epoch (0: off)", cxxopts::value<std::string>()->default_value(text(d.save_every_secs)))
        ("threads", "OpenMP threads (0: all cores, fewer while another process slows the steps); results do not depend on it", cxxopts::value<std::string>()->default_value(text(d.threads)))
        ("init_from", "a new run takes weights from this checkpoint or exported file (ignored when resuming)", cxxopts::value<std::string>()->default_value(""))
        ("init_map", "with --init_from: TARGET=SOURCE or NAME items, comma-separated (default: every weight name in both)", cxxopts::value<std::string>()->default_value(""))
        ("init_optimizer", "with --init_from: also copy the mapped weights' RMSProp slots")
        ("allow_other_data", "resume even when the data's fingerprint differs from the checkpoint's (recorded in it)")
        ("quiet", "log only warnings, errors and the per-epoch line (no progress line)")
        ("progress", "live progress line: auto (redrawn on a terminal, else a plain line every 5 s), plain, off", cxxopts::value<std::string>()->default_value("auto"))
        ("h,help", "print this help")
        ("version", "print the version");
}

TrainOptions parse_train_options(int argc, const char* const* argv) {
    cxxopts::Options o("train",
                       "Trains the 784-625-625-10 dropout MLP on MNIST with TensorFlow 1.x RMSProp, saving "
                       "model-<step>.safetensors checkpoints. Rerun the same command to resume exactly.");
    add_train_options(o);
    const auto r = parse_or_throw(o, argc, argv);
    TrainOptions out;
    if (r.count("help")) {
        std::cout << o.help() << "\nExit status: 0 done (the state reached is saved), 1 error, 128+N stopped by signal N after saving,\n"
                                  "75 the state reached could not be saved (disk full, I/O error; the message names the\n"
                                  "global_step reached and the newest checkpoint on disk, or says that none was saved).\n";
        out.exit_now = true;
        return out;
    }
    if (r.count("version")) {
        std::cout << "train " << MNIST_VERSION << "\n";
        out.exit_now = true;
        return out;
    }
    out.config = read_train_config(r);
    const TrainConfig& c = out.config;
    out.quiet = r.count("quiet") > 0;
    out.progress = get<std::string>(r, "progress");
    if (out.progress != "auto" && out.progress != "plain" && out.progress != "off")
        throw ConfigError("--progress expects auto, plain or off, got '" + out.progress + "'");
    validate(c);  // before any work: the data is not loaded for a configuration that cannot run
    return out;
}

EvalOptions parse_eval_options(int argc, const char* const* argv) {
    EvalOptions d;
    cxxopts::Options o("eval", "Evaluates a checkpoint on the MNIST test set: accuracy, loss, per-class accuracy "
                               "and the confusion matrix. The network's shape is read from the file.");
    o.add_options()
        ("ckpt_dir", "checkpoint directory; its latest checkpoint is evaluated", cxxopts::value<std::string>()->default_value(d.ckpt_dir))
        ("checkpoint", "a checkpoint file to evaluate instead of the latest", cxxopts::value<std::string>()->default_value(""))
        ("data_dir", "directory with the MNIST test files", cxxopts::value<std::string>()->default_value(d.data_dir))
        ("all", "evaluate every checkpoint in --ckpt_dir, oldest first")
        ("json", "print one JSON object (an array with --all)")
        ("threads", "OpenMP threads (0: all cores)", cxxopts::value<std::string>()->default_value("0"))
        ("errors", "write a PNG grid of misclassified test images, each labelled true>predicted", cxxopts::value<std::string>()->default_value(""))
        ("max", "with --errors: at most this many images", cxxopts::value<std::string>()->default_value(text(d.max_errors)))
        ("class_names", "digits, fashion (Fashion-MNIST's names), or auto: fashion when --data_dir contains 'fashion'", cxxopts::value<std::string>()->default_value(d.class_names))
        ("h,help", "print this help")
        ("version", "print the version");
    const auto r = parse_or_throw(o, argc, argv);
    EvalOptions out;
    if (r.count("help") || r.count("version")) {
        std::cout << (r.count("help") ? o.help() : std::string("eval ") + MNIST_VERSION + "\n");
        out.exit_now = true;
        return out;
    }
    out.ckpt_dir = get<std::string>(r, "ckpt_dir");
    out.checkpoint = get<std::string>(r, "checkpoint");
    out.data_dir = get<std::string>(r, "data_dir");
    out.json = r.count("json") > 0;
    out.all = r.count("all") > 0;
    out.threads = get<int>(r, "threads");
    if (out.threads < 0) throw ConfigError("--threads must be 0 (all cores) or more, got " + std::to_string(out.threads));
    if (out.all && !out.checkpoint.empty()) throw ConfigError("--all and --checkpoint cannot be combined");
    out.errors_png = get<std::string>(r, "errors");
    out.max_errors = get<int64_t>(r, "max");
    if (out.max_errors < 1) throw ConfigError("--max must be 1 or more, got " + std::to_string(out.max_errors));
    if (out.all && !out.errors_png.empty()) throw ConfigError("--all and --errors cannot be combined");
    out.class_names = get<std::string>(r, "class_names");
    if (out.class_names != "auto" && out.class_names != "digits" && out.class_names != "fashion")
        throw ConfigError("--class_names expects auto, digits or fashion, got '" + out.class_names + "'");
    return out;
}

PredictOptions parse_predict_options(int argc, const char* const* argv) {
    PredictOptions d;
    cxxopts::Options o("predict", "Classifies PNG or PGM pictures of digits with a checkpoint, after making each look like "
                                  "an MNIST image (grey, light on dark, cropped, fitted to 20x20, centred by mass in 28x28).");
    o.add_options()
        ("ckpt_dir", "checkpoint directory; its latest checkpoint is used", cxxopts::value<std::string>()->default_value(d.ckpt_dir))
        ("checkpoint", "a checkpoint file to use instead of the latest", cxxopts::value<std::string>()->default_value(""))
        ("json", "print one JSON array of {file, class, class_name, probabilities} (failures: {file, error})")
        ("top", "probabilities printed per image", cxxopts::value<std::string>()->default_value(text(d.top)))
        ("save_preprocessed", "write the 28x28 image each file became into this directory, as <name>.png", cxxopts::value<std::string>()->default_value(""))
        ("class_names", "digits, fashion, or auto: fashion when the checkpoint was trained on a data_dir containing 'fashion'", cxxopts::value<std::string>()->default_value(d.class_names))
        ("images", "image files", cxxopts::value<std::vector<std::string>>())
        ("h,help", "print this help")
        ("version", "print the version");
    o.parse_positional({"images"});
    o.positional_help("IMAGE...");
    const auto r = parse_or_throw(o, argc, argv);
    PredictOptions out;
    if (r.count("help") || r.count("version")) {
        std::cout << (r.count("help") ? o.help() + "\nExit status: 0 every file classified, 1 otherwise.\n"
                                      : std::string("predict ") + MNIST_VERSION + "\n");
        out.exit_now = true;
        return out;
    }
    out.ckpt_dir = get<std::string>(r, "ckpt_dir");
    out.checkpoint = get<std::string>(r, "checkpoint");
    out.json = r.count("json") > 0;
    out.top = get<int64_t>(r, "top");
    if (out.top < 1 || out.top > 10) throw ConfigError("--top must be 1 to 10, got " + std::to_string(out.top));
    out.save_preprocessed = get<std::string>(r, "save_preprocessed");
    out.class_names = get<std::string>(r, "class_names");
    if (out.class_names != "auto" && out.class_names != "digits" && out.class_names != "fashion")
        throw ConfigError("--class_names expects auto, digits or fashion, got '" + out.class_names + "'");
    if (r.count("images")) out.images = r["images"].as<std::vector<std::string>>();
    if (out.images.empty()) throw ConfigError("predict needs at least one IMAGE file (see --help)");
    return out;
}

BoardOptions parse_board_options(int argc, const char* const* argv) {
    BoardOptions d;
    cxxopts::Options o("board", "Serves a local dashboard of a training run: curves, checkpoints, evaluation, "
                                "and a canvas to draw digits on. Reads the checkpoint directory, never writes it.");
    o.add_options()
        ("ckpt_dir", "checkpoint directory to show (read only)", cxxopts::value<std::string>()->default_value(d.ckpt_dir))
        ("data_dir", "directory with the MNIST test files (for evaluations)", cxxopts::value<std::string>()->default_value(d.data_dir))
        ("host", "address to listen on (127.0.0.1: this machine only)", cxxopts::value<std::string>()->default_value(d.host))
        ("port", "port to listen on (0: any free port, printed)", cxxopts::value<std::string>()->default_value(text(d.port)))
        ("h,help", "print this help")
        ("version", "print the version");
    const auto r = parse_or_throw(o, argc, argv);
    BoardOptions out;
    if (r.count("help") || r.count("version")) {
        std::cout << (r.count("help") ? o.help() : std::string("board ") + MNIST_VERSION + "\n");
        out.exit_now = true;
        return out;
    }
    out.ckpt_dir = get<std::string>(r, "ckpt_dir");
    out.data_dir = get<std::string>(r, "data_dir");
    out.host = get<std::string>(r, "host");
    out.port = get<int>(r, "port");
    if (out.port < 0 || out.port > 65535) throw ConfigError("--port must be 0 to 65535, got " + std::to_string(out.port));
    return out;
}

}  // namespace mnist
