// The MPI world (see world.hpp), compiled when CMake finds MPI. Only MPI-1 calls that Open MPI and
// MPICH both have; float data moves as bytes (MPI_BYTE), integers combine with MPI_MAX/allgather.
#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "src/comm/world.hpp"
#include "src/errors.hpp"

namespace mnist {
namespace {

// Set by mpirun/mpiexec: Open MPI, MPICH's Hydra (PMI), PMIx-based launchers.
bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"})
        if (std::getenv(name)) return true;
    return false;
}

int count_of(size_t bytes) {
    if (bytes > size_t(INT_MAX)) throw std::length_error("MPI message of " + std::to_string(bytes) + " bytes");
    return int(bytes);
}

void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) throw std::runtime_error(std::string(what) + " failed (MPI error " + std::to_string(rc) + ")");
}

class MpiWorld : public Comm {
public:
    MpiWorld(int& argc, char**& argv) {
        check(MPI_Init(&argc, &argv), "MPI_Init");
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
    }
    ~MpiWorld() override {
        wait_sends();
        MPI_Finalize();
    }
    int rank() const override { return rank_; }
    int size() const override { return size_; }
    void send(int to, const void* data, size_t bytes) override {
        pending_.emplace_back();
        check(MPI_Isend(data, count_of(bytes), MPI_BYTE, to, 0, MPI_COMM_WORLD, &pending_.back()), "MPI_Isend");
        bytes_sent_ += int64_t(bytes);
    }
    void wait_sends() override {
        if (pending_.empty()) return;
        check(MPI_Waitall(int(pending_.size()), pending_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
        pending_.clear();
    }
    void receive(int from, void* data, size_t bytes) override {
        MPI_Status status;
        check(MPI_Recv(data, count_of(bytes), MPI_BYTE, from, 0, MPI_COMM_WORLD, &status), "MPI_Recv");
        int got = 0;
        MPI_Get_count(&status, MPI_BYTE, &got);
        if (got != int(bytes))
            throw std::logic_error("rank " + std::to_string(rank_) + " expected " + std::to_string(bytes) +
                                   " bytes from rank " + std::to_string(from) + ", got " + std::to_string(got));
    }
    void broadcast(int root, void* data, size_t bytes) override {
        check(MPI_Bcast(data, count_of(bytes), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
        if (rank_ == root) bytes_sent_ += int64_t(bytes);  // what the root puts on the wire at least
    }
    int64_t max(int64_t value) override {
        long long in = value, out = 0;
        check(MPI_Allreduce(&in, &out, 1, MPI_LONG_LONG, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce");
        return out;
    }
    std::vector<int64_t> gather_all(int64_t value) override {
        long long in = value;
        std::vector<long long> all(size_t(size_), 0);
        check(MPI_Allgather(&in, 1, MPI_LONG_LONG, all.data(), 1, MPI_LONG_LONG, MPI_COMM_WORLD), "MPI_Allgather");
        return std::vector<int64_t>(all.begin(), all.end());
    }

private:
    int rank_ = 0, size_ = 1;
    std::vector<MPI_Request> pending_;
};

}  // namespace

bool built_with_mpi() { return true; }

std::unique_ptr<Comm> join_world(int& argc, char**& argv) {
    if (!launched_by_mpi()) return std::make_unique<SingleProcess>();
    return std::make_unique<MpiWorld>(argc, argv);
}

void abort_world(Comm& comm, int code) {
    if (comm.size() > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

}  // namespace mnist
