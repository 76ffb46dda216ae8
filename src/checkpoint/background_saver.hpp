// Saver::save on a background thread, one save at a time, so training goes on while the file is
// written and synced (most of a save is the disk's fsync). start() encodes the state (a few ms)
// before it returns; the thread writes those bytes; the outcome is known after wait(). Every
// guarantee of Saver::save holds: a save killed half way leaves the earlier checkpoints and the
// state file as they were.
#pragma once
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "src/checkpoint/checkpoint_dir.hpp"

namespace mnist {

class BackgroundSaver {
public:
    struct Outcome {
        std::string file;   // the file written, or empty when the save failed
        std::string error;  // why it failed (CheckpointError's message), or empty
        double seconds = 0; // from start() until the file and the state file were durable
        std::vector<std::string> warnings;  // a landed save's retention problems (Saver::retention_warnings)
    };
    explicit BackgroundSaver(Saver& saver) : saver_(saver) {}
    ~BackgroundSaver();  // waits for a save in flight (its outcome is dropped)
    BackgroundSaver(const BackgroundSaver&) = delete;
    BackgroundSaver& operator=(const BackgroundSaver&) = delete;

    // Waits for the save in flight, if any (its outcome is then lost: call wait() first to read
    // it), and starts saving s as it is now.
    void start(const TrainingState& s, double now);
    // Waits for the save in flight and returns its outcome; nullopt when none was started since.
    std::optional<Outcome> wait();

private:
    Saver& saver_;
    std::thread worker_;
    std::vector<uint8_t> bytes_;  // the file being written; released once it is on disk
    Outcome outcome_;
    bool in_flight_ = false;      // a save was started and wait() has not reported it yet
};

}  // namespace mnist
