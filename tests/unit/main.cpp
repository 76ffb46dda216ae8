// Catch2's main for the unit_tests executable; every TEST_CASE becomes one ctest entry
// (catch_discover_tests). Test names must not contain '[' or ']': CMake's discovery script
// would merge the following test cases into one entry that runs none of them.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
