// The processes of this run: the MPI world when the program was started by an MPI launcher
// (mpirun/mpiexec of Open MPI or MPICH) and the build has MPI (cmake option MNIST_MPI), else one
// process alone. Without a launcher MPI is not even initialised, so ./train runs as it always did.
#pragma once
#include <memory>

#include "src/comm/comm.hpp"

namespace mnist {

// True when this build can run as several MPI processes.
bool built_with_mpi();

// Joins the world (MPI_Init under a launcher; MPI_Finalize when the result is destroyed).
// throws ConfigError when a launcher started this program but the build has no MPI and the launcher
// asked for more than one process (each would train alone, on the same directory).
std::unique_ptr<Comm> join_world(int& argc, char**& argv);

// Ends every process of the job at once with `code` (another rank may be waiting for this one):
// MPI_Abort in an MPI world of several processes; does nothing for one process.
void abort_world(Comm& comm, int code);

}  // namespace mnist
