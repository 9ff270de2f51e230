// fleetctl: the command-line client of fleet's HTTP API.
#include <cstdio>
#include <exception>
#include <iostream>

#include "fleetctl/cli.h"
#include "fleetctl/heap.h"

int main(int argc, char** argv) {
  using namespace fleet::fleetctl;
  prepare_heap();
  // std::cout writes through C's stdout (sync_with_stdio), which is block-buffered when it is
  // not a terminal: a CI job killed mid-wait kept none of the lines about units already
  // created. Every line is written as it is complete.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  try {
    RealSystem sys;
    CliEnv env{std_output(), sys, http_client_factory()};
    int code = run_fleetctl(std::vector<std::string>(argv + 1, argv + argc), env);
    std::cout.flush();
    return code;
  } catch (const std::exception& e) {
    std::cerr << "Error: " << e.what() << "\n";
    return kExitFailure;
  }
}
