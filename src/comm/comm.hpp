// How the processes of a data-parallel run talk to each other: bytes sent from one rank to
// another, bytes broadcast, and integers combined. Nothing here adds floats: a library's float
// reduction sums in an order of its choosing (it changes with the number of processes), so every
// float sum of the run is a chain the caller builds from these messages, in a fixed order.
// SingleProcess is the run without MPI (one rank); world.hpp gives the MPI world when launched by mpirun.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnist {

class Comm {
public:
    virtual ~Comm() = default;
    virtual int rank() const = 0;  // 0 .. size() - 1
    virtual int size() const = 0;
    // Starts sending `bytes` bytes to rank `to`; `data` must stay unchanged until wait_sends().
    // Messages from one rank to another arrive in the order they were sent.
    virtual void send(int to, const void* data, size_t bytes) = 0;
    // Waits for every send started since the last call.
    virtual void wait_sends() = 0;
    // Receives the next message from rank `from`, which must be `bytes` bytes long.
    virtual void receive(int from, void* data, size_t bytes) = 0;
    // Every rank's `data` becomes root's.
    virtual void broadcast(int root, void* data, size_t bytes) = 0;
    // The largest of every rank's value (integers: the result does not depend on any order).
    virtual int64_t max(int64_t value) = 0;
    // Every rank's value, indexed by rank.
    virtual std::vector<int64_t> gather_all(int64_t value) = 0;
    // Bytes this process has sent so far (sends and its share of broadcasts), for benchmarks.
    int64_t bytes_sent() const { return bytes_sent_; }

protected:
    int64_t bytes_sent_ = 0;
};

// One process alone: rank 0 of 1. Sending or receiving is a bug (std::logic_error); broadcasts and
// reductions return the value given.
class SingleProcess : public Comm {
public:
    int rank() const override { return 0; }
    int size() const override { return 1; }
    void send(int to, const void* data, size_t bytes) override;
    void wait_sends() override {}
    void receive(int from, void* data, size_t bytes) override;
    void broadcast(int, void*, size_t) override {}
    int64_t max(int64_t value) override { return value; }
    std::vector<int64_t> gather_all(int64_t value) override { return {value}; }
};

}  // namespace mnist
