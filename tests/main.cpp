// Catch2's main for the unit_tests executable; every TEST_CASE becomes one ctest entry.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
