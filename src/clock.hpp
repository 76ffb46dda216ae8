// The wall clock as stored in files (metrics records, the state file, checkpoints' saved_at).
#pragma once
#include <chrono>

namespace mnist {

// Seconds since the Unix epoch.
inline double unix_now() {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace mnist
