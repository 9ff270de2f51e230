#pragma once
// The composition root: builds the registry backend, agent, engine and API server from the
// configuration and runs them on one io_context until SIGTERM/SIGINT.

#include "fleetd/config/config.h"

namespace fleet::fleetd {

// Returns the process exit code. Start-up failures (no machine ID, bad etcd endpoint, API
// address in use, no systemd) are printed as one line and give 1.
int run_daemon(const LoadedConfig& loaded, int argc, const char* const* argv);

}  // namespace fleet::fleetd
