#pragma once
// fleetctl's entry point as a function: global flags and FLEETCTL_* environment, command lookup
// (exact name or unique prefix), flag parsing, help, API client creation, then the command.
// main.cpp only wires the real process environment and HttpApiClient into run_fleetctl.

#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "api/client.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

inline constexpr const char* kSignDeprecated =
    "WARNING: The signed/verified units feature is DEPRECATED and cannot be used.";

// Builds the API client from the global options; its error is printed as
// `Unable to initialize client: <err>`. Warnings go to `err`.
using ClientFactory = std::function<Result<std::unique_ptr<api::ApiClient>>(
    const GlobalOptions& global, std::ostream& err)>;

struct CliEnv {
  Output io;
  System& sys;
  ClientFactory make_client;
  UnitSource units = default_unit_source();
  std::chrono::milliseconds poll_interval{250};
};

// `args` excludes argv[0]. Returns the process exit code.
int run_fleetctl(const std::vector<std::string>& args, CliEnv& env);

// The factory main() uses: HttpApiClient for the API driver.
ClientFactory http_client_factory();

std::vector<FlagSpec> global_flags();
// Exact name, else unique prefix; nullptr when unknown or ambiguous.
const Command* find_command(const std::string& name);
void print_root_help(std::ostream& out);
void print_command_help(std::ostream& out, const Command& c);

}  // namespace fleet::fleetctl
