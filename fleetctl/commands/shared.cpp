// Flag sets shared by several commands, and the command table.
#include <algorithm>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

std::vector<FlagSpec> block_flags() {
  return {
      {"block-attempts", FlagType::integer, "0",
       "Wait until the units are in the desired state, checking at most this many times (each "
       "check waits up to 2s). 0 waits forever."},
      {"no-block", FlagType::boolean, "",
       "Do not wait until the units have reached the desired "
       "state before returning."},
  };
}

std::vector<FlagSpec> listing_flags(std::string default_fields) {
  return {
      {"fields", FlagType::string, std::move(default_fields), "Columns to print, comma-separated."},
      {"format", FlagType::string, "table", "Output format: table or json."},
      {"no-legend", FlagType::boolean, "", "Do not print a legend (column headers)"},
  };
}

FlagSpec full_flag(bool with_l_alias) {
  FlagSpec f{"full", FlagType::boolean, "", "Do not ellipsize fields on output"};
  if (with_l_alias) {
    f.shorthand = 'l';
    f.aliases = {"l"};
  }
  return f;
}

FlagSpec replace_flag() {
  return {"replace", FlagType::boolean, "",
          "Replace the already submitted units in the cluster with new versions."};
}

FlagSpec sign_flag() {
  FlagSpec f{"sign", FlagType::boolean, "", "DEPRECATED - this option cannot be used"};
  f.hidden = true;
  return f;
}

FlagSpec ssh_port_flag() {
  return {"ssh-port", FlagType::integer, "22",
          "Connect to remote hosts over SSH using this TCP port."};
}

const std::vector<Command>& all_commands() {
  static const std::vector<Command> kCommands = [] {
    std::vector<Command> c = {
        cat_command(),         completion_command(),     cordon_command(),
        drain_command(),       uncordon_command(),       destroy_command(),
        events_command(),      fd_forward_command(),     help_command(),
        journal_command(),     list_machines_command(),  list_unit_files_command(),
        list_units_command(),  load_command(),           reboot_command(),
        reboot_lock_command(), reboot_status_command(),  restart_command(),
        rollout_command(),     rollout_status_command(), ssh_command(),
        start_command(),       status_command(),         stop_command(),
        submit_command(),      unload_command(),         verify_command(),
        version_command(),
    };
    std::sort(c.begin(), c.end(),
              [](const Command& a, const Command& b) { return a.name < b.name; });
    return c;
  }();
  return kCommands;
}

}  // namespace fleet::fleetctl
