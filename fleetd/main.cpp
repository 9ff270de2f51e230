#include <iostream>

#include "fleetd/command_line.h"
#include "fleetd/daemon.h"

int main(int argc, char** argv) {
  fleet::fleetd::LoadedConfig loaded;
  if (auto code =
          fleet::fleetd::startup(argc, argv, fleet::fleetd::process_env(),
                                 fleet::fleetd::real_file_reader(), std::cout, std::cerr, loaded))
    return *code;
  return fleet::fleetd::run_daemon(loaded, argc, argv);
}
