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

// A run that could not save its state: the save that ends it (its last step, or a stop signal)
// failed after its retries, or too many saves failed in a row. ./train exits with its own status
// (kExitUnsaved, trainer.hpp) so that a script can tell lost work from bad input.
struct SaveError : CheckpointError {
    using CheckpointError::CheckpointError;
};

// metrics.jsonl could not be read or written (the trainer logs it and goes on: the curve is not
// needed to resume).
struct MetricsError : Error {
    using Error::Error;
};

// The processes of a data-parallel run (mpirun -np N ./train) were not started alike: other options
// or other data on some rank. Every rank throws it with the same message, before any step.
struct RanksDisagree : ConfigError {
    using ConfigError::ConfigError;
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
