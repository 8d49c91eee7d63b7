// Catch2's main, compiled once for every test executable (its single header
// makes this the slowest translation unit of the tree to compile).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
