// fleetctl: the command-line client of fleet's HTTP API.
#include <exception>
#include <iostream>

#include "fleetctl/cli.h"

int main(int argc, char** argv) {
  using namespace fleet::fleetctl;
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
