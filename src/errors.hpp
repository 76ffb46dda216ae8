// Every error type of the project. Modules throw these; each program's main catches once, prints
// the message and exits non-zero. A message names the file (or option), the field, what was expected
// and what was found, so that the one line a user reads is enough to fix the input.
#pragma once
#include <stdexcept>
#include <string>

namespace mnist {

// The common base: "something the user can fix" (as opposed to a bug, which is std::logic_error).
struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// An option, or a configuration value stored in a checkpoint, that is malformed or out of range.
struct ConfigError : Error {
    using Error::Error;
};

// A malformed or unreadable IDX data file (data_loader).
struct IdxError : Error {
    using Error::Error;
};

// A checkpoint, an exported tensor file, the `checkpoint` state file or the checkpoint directory
// itself: unreadable, damaged, locked, or a save that failed.
struct CheckpointError : Error {
    using Error::Error;
};

// metrics.jsonl could not be read or written (the trainer logs it and goes on: the curve is not
// needed to resume).
struct MetricsError : Error {
    using Error::Error;
};

// A picture could not be written.
struct PngError : Error {
    using Error::Error;
};

// An image file given to ./predict (or drawn on ./board's canvas) that cannot be read or classified:
// not a PNG or PGM, malformed, too large, or with no ink.
struct ImageError : Error {
    using Error::Error;
};

// A request to ./board's JSON API that is malformed or names something it may not read (answered 4xx).
struct RequestError : Error {
    using Error::Error;
    RequestError(int status, const std::string& message) : Error(message), status(status) {}
    int status = 400;
};

}  // namespace mnist
