// Writes a small synthetic MNIST-like data set (the four IDX files) for the program-level tests.
//   usage: make_test_data DIR [TRAIN_IMAGES [TEST_IMAGES [SIDE]]]
#include <cstdlib>
#include <cstdio>

#include "tests/unit/fixture.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: make_test_data DIR [TRAIN_IMAGES [TEST_IMAGES [SIDE]]]\n");
        return 1;
    }
    const uint32_t train = argc > 2 ? uint32_t(std::atoi(argv[2])) : 1100;
    const uint32_t test = argc > 3 ? uint32_t(std::atoi(argv[3])) : 200;
    const uint32_t side = argc > 4 ? uint32_t(std::atoi(argv[4])) : 14;
    testutil::write_synthetic_mnist(argv[1], train, test, side);
    return 0;
}
