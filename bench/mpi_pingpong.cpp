// Latency and bandwidth of MPI point-to-point messages between ranks 0 and 1 on this machine (the
// loopback figures bench/bench_mpi.sh puts into its model of a data-parallel step).
//   usage: mpirun -np 2 bench/mpi_pingpong [BYTES [ROUNDS]]   (defaults 106496 = one 64-row block of a
//          625-wide gradient, 200)
// Prints "pingpong: latency_us L bandwidth_GBps B" (latency from 8-byte messages, bandwidth from BYTES).
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
// Seconds of one round trip of `bytes`, the mean over `rounds`.
double round_trip(int rank, size_t bytes, int rounds, std::vector<char>& buffer) {
    MPI_Barrier(MPI_COMM_WORLD);
    const double start = MPI_Wtime();
    for (int i = 0; i < rounds; ++i) {
        if (rank == 0) {
            MPI_Send(buffer.data(), int(bytes), MPI_BYTE, 1, 0, MPI_COMM_WORLD);
            MPI_Recv(buffer.data(), int(bytes), MPI_BYTE, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
            MPI_Recv(buffer.data(), int(bytes), MPI_BYTE, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
            MPI_Send(buffer.data(), int(bytes), MPI_BYTE, 0, 0, MPI_COMM_WORLD);
        }
    }
    return (MPI_Wtime() - start) / rounds;
}
}  // namespace

int main(int argc, char** argv) {
    MPI_Init(&argc, &argv);
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    const size_t bytes = argc > 1 ? size_t(std::atol(argv[1])) : 106496;
    const int rounds = argc > 2 ? std::atoi(argv[2]) : 200;
    if (size < 2) {
        if (rank == 0) std::fprintf(stderr, "mpi_pingpong: run with mpirun -np 2\n");
        MPI_Finalize();
        return 1;
    }
    std::vector<char> buffer(bytes > 8 ? bytes : 8);
    round_trip(rank, bytes, 10, buffer);  // warm-up
    const double small = round_trip(rank, 8, rounds, buffer), large = round_trip(rank, bytes, rounds, buffer);
    if (rank == 0)
        std::printf("pingpong: latency_us %.2f bandwidth_GBps %.3f\n", small / 2 * 1e6,
                    double(bytes) / ((large - small) / 2) / 1e9);
    MPI_Finalize();
    return 0;
}
