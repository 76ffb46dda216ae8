// The JSON API behind ./board, as plain functions of a request (no sockets: the tests call them
// directly; board_server wires them to cpp-httplib). Read only: it lists, reads and evaluates
// checkpoints and metrics.jsonl of one directory and never writes there. Every request that is
// malformed or names something outside the directory is answered 4xx with a message.
//   GET  /api/metrics                  every metrics.jsonl record, in order
//   GET  /api/checkpoints              step, epoch, time, bytes, valid or why not, latest
//   GET  /api/eval?checkpoint=NAME     test accuracy, loss, per-class accuracy, confusion, errors
//   POST /api/predict {"pixels": [784 values 0..255], "checkpoint": NAME (optional)}
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "data_loader/mnist.hpp"
#include "src/model/training_state.hpp"

namespace mnist {

struct ApiResponse {
    int status = 200;
    std::string body;  // JSON; for status >= 400, {"error": message}
};

// Largest request body accepted (a predict request with 784 numbers is under 4 KB).
constexpr size_t kMaxRequestBytes = 64 * 1024;
// Misclassified test images returned by /api/eval, at most.
constexpr size_t kMaxEvalErrors = 60;

class BoardApi {
public:
    BoardApi(std::string ckpt_dir, std::string data_dir);

    ApiResponse metrics() const;
    ApiResponse checkpoints();
    // name: a file name model-<step>.safetensors in the directory ("" or "latest": the latest).
    ApiResponse eval(const std::string& name);
    ApiResponse predict(const std::string& body);

private:
    // The checkpoint's path after checking the name (400 for anything but model-<step>.safetensors,
    // 404 when absent); "" or "latest" gives latest_checkpoint. throws RequestError.
    std::string checkpoint_path(const std::string& name) const;
    // The checkpoint read and verified, cached while its size and modification time stay the same.
    std::shared_ptr<const TrainingState> load(const std::string& path);
    const Dataset& test_set();

    std::string ckpt_dir_, data_dir_;
    std::mutex cache_mutex_;
    struct Cached {
        uintmax_t size = 0;
        int64_t mtime = 0;
        std::shared_ptr<const TrainingState> state;
        std::string error;
    };
    std::map<std::string, Cached> states_;
    std::mutex eval_mutex_;                      // one evaluation at a time
    std::map<uint32_t, std::string> eval_cache_;  // CRC-32 of the file's bytes -> answer
    std::optional<Dataset> test_;
};

}  // namespace mnist
