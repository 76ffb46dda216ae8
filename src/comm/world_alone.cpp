// The world of a build without MPI (see world.hpp): always one process.
#include <cstdlib>
#include <string>

#include "src/comm/world.hpp"
#include "src/errors.hpp"

namespace mnist {

bool built_with_mpi() { return false; }

std::unique_ptr<Comm> join_world(int&, char**&) {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE"}) {
        const char* size = std::getenv(name);
        if (size && std::atoi(size) > 1)
            throw ConfigError(std::string("started by mpirun with ") + size +
                              " processes, but this build has no MPI (install libopenmpi-dev and rebuild with "
                              "-DMNIST_MPI=ON)");
    }
    return std::make_unique<SingleProcess>();
}

void abort_world(Comm&, int) {}

}  // namespace mnist
