#pragma once
// The command framework: every fleetctl command is a Command (name, help, flags, run) whose run
// function gets a CommandContext with its sinks, the API client and its parsed flags/args.
// Commands are plain functions of their inputs, so tests run them against FakeApiClient,
// BufferOutput and FakeSystem.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/client.h"
#include "fleetctl/flags.h"
#include "fleetctl/output.h"
#include "fleetctl/system.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitDeprecated = 2;  // the removed signing feature

struct GlobalOptions {
  std::string endpoint = "unix:///var/run/fleet.sock";
  std::string driver = "API";
  std::string tunnel;
  std::string ssh_username = "core";
  double ssh_timeout = 10.0;
  bool strict_host_key_checking = true;
  std::string known_hosts_file;  // default ~/.fleetctl/known_hosts
  std::string key_file, cert_file, ca_file;
  double request_timeout = 3.0;
  bool debug = false;
};

struct CommandContext {
  Output io;
  api::ApiClient* api = nullptr;  // null only for commands that do not need the API
  System& sys;
  const GlobalOptions& global;
  const UnitSource& units;
  const FlagValues& flags;
  std::vector<std::string> args;
  std::string command;  // the command's name
  // Poll interval of blocking waits; a 2 s attempt is 8 polls.
  std::chrono::milliseconds poll_interval{250};
  // The cluster's machines, fetched once on first use (fleet's cachedMachineState).
  std::optional<std::vector<api::Machine>> machine_cache;
  // With `--format json`: where the unit commands record each unit's first error (unit_results.h).
  std::map<std::string, std::string, std::less<>>* errors = nullptr;
};

struct Command {
  std::string name;
  std::string usage;    // after "fleetctl <name> "
  std::string summary;  // one line, for the command list
  std::string description;
  std::vector<FlagSpec> flags;
  bool needs_api = true;
  bool hidden = false;
  bool interspersed = true;  // false: flags end at the first argument (ssh's remote command)
  bool unit_args = false;    // every argument names a unit (or its file): checked before running
  int (*run)(CommandContext&) = nullptr;
};

// All commands, sorted by name (commands/*.cpp).
const std::vector<Command>& all_commands();

Command cat_command();
Command completion_command();
Command cordon_command();
Command drain_command();
Command uncordon_command();
Command destroy_command();
Command events_command();
Command fd_forward_command();
Command help_command();
Command journal_command();
Command list_machines_command();
Command list_unit_files_command();
Command list_units_command();
Command load_command();
Command reboot_command();
Command reboot_lock_command();
Command reboot_status_command();
Command rollout_command();
Command rollout_status_command();
Command restart_command();
Command ssh_command();
Command start_command();
Command status_command();
Command stop_command();
Command submit_command();
Command unload_command();
Command verify_command();
Command version_command();

// Flag sets several commands share.
std::vector<FlagSpec> block_flags();                              // --no-block, --block-attempts
std::vector<FlagSpec> listing_flags(std::string default_fields);  // --no-legend --fields --format
FlagSpec full_flag(bool with_l_alias);                            // --full (and --l/-l)
FlagSpec replace_flag();
FlagSpec sign_flag();
FlagSpec ssh_port_flag();

}  // namespace fleet::fleetctl
