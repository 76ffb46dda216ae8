// Saves on a background thread (see background_saver.hpp).
#include "src/checkpoint/background_saver.hpp"

#include <chrono>

namespace mnist {

BackgroundSaver::~BackgroundSaver() {
    if (worker_.joinable()) worker_.join();
}

void BackgroundSaver::start(const TrainingState& s, double now) {
    if (worker_.joinable()) worker_.join();
    outcome_ = Outcome{};
    in_flight_ = true;
    const auto started = std::chrono::steady_clock::now();
    try {
        bytes_ = encode_checkpoint(s, now);
    } catch (const std::exception& e) {  // CheckpointError from the encoder, bad_alloc: a failed save
        outcome_.error = e.what();
        return;
    }
    worker_ = std::thread([this, step = s.global_step, now, started] {
        try {
            outcome_.file = saver_.save_encoded(step, bytes_, now);
            outcome_.warnings = saver_.retention_warnings();
        } catch (const std::exception& e) {  // CheckpointError; bad_alloc and the like count as failures too
            outcome_.error = e.what();
        }
        std::vector<uint8_t>().swap(bytes_);  // 10 MB for this model: not kept until the next save
        outcome_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    });
}

std::optional<BackgroundSaver::Outcome> BackgroundSaver::wait() {
    if (worker_.joinable()) worker_.join();
    if (!in_flight_) return std::nullopt;
    in_flight_ = false;
    return outcome_;
}

}  // namespace mnist
