#include <iostream>

#include "fleetd/config/command_line.h"
#include "fleetd/daemon.h"
#include "fleetd/journal_log.h"

int main(int argc, char** argv) {
  fleet::fleetd::LoadedConfig loaded;
  if (auto code =
          fleet::fleetd::startup(argc, argv, fleet::fleetd::process_env(),
                                 fleet::fleetd::real_file_reader(), std::cout, std::cerr, loaded))
    return *code;
  namespace log = fleet::log;
  if (fleet::fleetd::stderr_is_journal()) {
    log::set_sink(&fleet::fleetd::journal_sink);
  } else {
    log::set_timestamps(true);  // journald would add them; a terminal or file needs them
    if (loaded.config.log_format == "json") log::set_format(log::Format::json);
  }
  return fleet::fleetd::run_daemon(loaded, argc, argv);
}
