// shortcredctl: a thin main over run_ctl (token-service/src/ctl.cpp).
#include <iostream>

#include "shortcred/tokens/ctl.hpp"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  return shortcred::tokens::run_ctl(args, std::cout, std::cerr);
}
