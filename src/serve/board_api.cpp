// ./board's JSON API (see board_api.hpp).
#include "src/serve/board_api.hpp"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "src/checkpoint/checkpoint_dir.hpp"
#include "src/cli/class_names.hpp"
#include "src/cli/preprocess.hpp"
#include "src/model/evaluate.hpp"
#include "src/train/metrics.hpp"

namespace mnist {
namespace fs = std::filesystem;
namespace {

// metrics.jsonl larger than this is not served (a 50-epoch run writes about 30 KB).
constexpr uintmax_t kMaxMetricsBytes = uintmax_t(64) << 20;

ApiResponse ok(const nlohmann::json& j) { return {200, j.dump()}; }

ApiResponse failure(int status, const std::string& message) { return {status, nlohmann::json{{"error", message}}.dump()}; }

template <class F>
ApiResponse answer(F&& f) {
    try {
        return f();
    } catch (const RequestError& e) {
        return failure(e.status, e.what());
    } catch (const IdxError& e) {
        return failure(503, e.what());
    } catch (const Error& e) {
        return failure(409, e.what());  // a file that changed or vanished under us, a damaged checkpoint
    }
}

uint32_t file_crc32(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw RequestError(404, "checkpoint '" + fs::path(path).filename().string() + "' is gone");
    uLong crc = crc32(0, nullptr, 0);
    std::vector<char> buf(1 << 16);
    while (in.read(buf.data(), std::streamsize(buf.size())) || in.gcount() > 0)
        crc = crc32(crc, reinterpret_cast<const Bytef*>(buf.data()), uInt(in.gcount()));
    return uint32_t(crc);
}

}  // namespace

BoardApi::BoardApi(std::string ckpt_dir, std::string data_dir) : ckpt_dir_(std::move(ckpt_dir)), data_dir_(std::move(data_dir)) {}

ApiResponse BoardApi::metrics() const {
    return answer([&] {
        const std::string path = (fs::path(ckpt_dir_) / kMetricsFile).string();
        std::error_code ec;
        const uintmax_t size = fs::file_size(path, ec);
        if (!ec && size > kMaxMetricsBytes)
            throw RequestError(413, path + " is " + std::to_string(size) + " bytes; at most " +
                                        std::to_string(kMaxMetricsBytes) + " are served");
        nlohmann::json out = nlohmann::json::array();
        for (nlohmann::json& r : read_metrics(path)) out.push_back(std::move(r));
        return ok(out);
    });
}

std::string BoardApi::checkpoint_path(const std::string& name) const {
    if (name.empty() || name == "latest") {
        try {
            return latest_checkpoint(ckpt_dir_);
        } catch (const CheckpointError& e) {
            throw RequestError(404, e.what());
        }
    }
    static const std::regex kName("model-[0-9]{1,18}\\.safetensors");
    if (!std::regex_match(name, kName))
        throw RequestError(400, "checkpoint: expected a file name model-<step>.safetensors in the checkpoint directory, found '" +
                                    name.substr(0, 200) + "'");
    const std::string path = (fs::path(ckpt_dir_) / name).string();
    if (!fs::is_regular_file(path)) throw RequestError(404, "checkpoint: no file '" + name + "' in '" + ckpt_dir_ + "'");
    return path;
}

std::shared_ptr<const TrainingState> BoardApi::load(const std::string& path) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    const auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
    if (ec) throw RequestError(404, "checkpoint '" + fs::path(path).filename().string() + "' is gone");
    {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = states_.find(path);
        if (it != states_.end() && it->second.size == size && it->second.mtime == int64_t(mtime)) {
            if (!it->second.error.empty()) throw CheckpointError(it->second.error);
            return it->second.state;
        }
    }
    Cached c{size, int64_t(mtime), nullptr, ""};
    try {
        c.state = std::make_shared<const TrainingState>(read_checkpoint(path));
    } catch (const CheckpointError& e) {
        c.error = e.what();
    }
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (states_.size() > 64) states_.clear();  // files come and go while a run trains
    states_[path] = c;
    if (!c.error.empty()) throw CheckpointError(c.error);
    return c.state;
}

ApiResponse BoardApi::checkpoints() {
    return answer([&] {
        std::string latest;
        try {
            latest = fs::path(latest_checkpoint(ckpt_dir_)).filename().string();
        } catch (const CheckpointError&) {
        }
        nlohmann::json out = nlohmann::json::array();
        const auto files = list_checkpoint_files(ckpt_dir_);
        for (auto it = files.rbegin(); it != files.rend(); ++it) {
            nlohmann::json j{{"name", it->second}, {"step", it->first}, {"latest", it->second == latest}};
            const std::string path = (fs::path(ckpt_dir_) / it->second).string();
            std::error_code ec;
            j["bytes"] = fs::file_size(path, ec);
            if (ec) continue;  // deleted by the trainer's retention since the listing
            try {
                const auto st = load(path);
                j["valid"] = true;
                j["epoch"] = st->epoch();
                j["saved_at"] = st->saved_at;
            } catch (const Error& e) {
                j["valid"] = false;
                j["error"] = e.what();
            }
            out.push_back(j);
        }
        return ok(out);
    });
}

const Dataset& BoardApi::test_set() {
    if (!test_) test_ = load_mnist_test(data_dir_);
    return *test_;
}

ApiResponse BoardApi::eval(const std::string& name) {
    return answer([&] {
        const std::string path = checkpoint_path(name);
        std::lock_guard<std::mutex> one_at_a_time(eval_mutex_);
        const uint32_t crc = file_crc32(path);
        if (auto it = eval_cache_.find(crc); it != eval_cache_.end()) return ApiResponse{200, it->second};
        const auto st = load(path);
        const Dataset& test = test_set();
        if (const std::string why = input_mismatch(st->net, test, "the test images"); !why.empty())
            throw RequestError(409, path + ": " + why);
        EvalWorkspace ws = make_eval_workspace(st->net);
        const EvalResult r = evaluate(st->net, test, ws);
        nlohmann::json errors = nlohmann::json::array();
        for (size_t k = 0; k < r.errors.size() && k < kMaxEvalErrors; ++k) {
            const uint8_t* px = test.pixels.data() + size_t(r.errors[k]) * test.image_size();
            errors.push_back({{"index", r.errors[k]}, {"label", test.labels[r.errors[k]]},
                              {"predicted", r.error_predictions[k]},
                              {"pixels", std::vector<uint8_t>(px, px + test.image_size())}});
        }
        nlohmann::json j{{"checkpoint", fs::path(path).filename().string()}, {"global_step", st->global_step},
                         {"epoch", st->epoch()}, {"images", r.count}, {"accuracy", r.accuracy}, {"loss", r.loss},
                         {"per_class_accuracy", r.per_class_accuracy}, {"confusion_matrix", r.confusion},
                         {"class_names", class_names("auto", st->config.data_dir)}, {"errors_total", r.errors.size()},
                         {"errors", errors}, {"side", test.cols}};
        if (eval_cache_.size() > 32) eval_cache_.clear();
        return ApiResponse{200, eval_cache_[crc] = j.dump()};
    });
}

ApiResponse BoardApi::predict(const std::string& body) {
    return answer([&] {
        if (body.size() > kMaxRequestBytes)
            throw RequestError(413, "request body of " + std::to_string(body.size()) + " bytes; at most " +
                                        std::to_string(kMaxRequestBytes) + " are accepted");
        const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
        if (j.is_discarded() || !j.is_object()) throw RequestError(400, "body: expected a JSON object {\"pixels\": [784 numbers]}");
        const auto px = j.find("pixels");
        if (px == j.end() || !px->is_array() || px->size() != size_t(kMnistSide * kMnistSide))
            throw RequestError(400, "pixels: expected an array of 784 numbers 0..255 (28x28, row after row), found " +
                                        (px == j.end() ? std::string("none") : px->is_array() ? std::to_string(px->size()) + " values" : std::string(px->type_name())));
        GreyImage img;
        img.width = img.height = kMnistSide;
        for (size_t i = 0; i < px->size(); ++i) {
            const nlohmann::json& v = (*px)[i];
            if (!v.is_number() || v.get<double>() < 0 || v.get<double>() > 255)
                throw RequestError(400, "pixels[" + std::to_string(i) + "]: expected a number 0..255, found " + v.dump().substr(0, 40));
            img.v.push_back(float(v.get<double>() / 255.0));
        }
        const auto ck = j.find("checkpoint");
        if (ck != j.end() && !ck->is_string()) throw RequestError(400, "checkpoint: expected a file name (a string)");
        const std::string path = checkpoint_path(ck == j.end() ? "" : ck->get<std::string>());
        const auto st = load(path);
        Preprocessed pre;
        try {
            pre = mnist_preprocess(img, "pixels");
        } catch (const ImageError& e) {
            throw RequestError(422, e.what());
        }
        const Prediction p = classify(st->net, pre.pixels, path);
        const std::vector<std::string> names = class_names("auto", st->config.data_dir);
        return ok({{"class", p.label}, {"class_name", names.at(size_t(p.label))}, {"probabilities", p.probabilities},
                   {"checkpoint", fs::path(path).filename().string()}, {"preprocessed", pre.pixels}});
    });
}

}  // namespace mnist
