// `fleetctl ssh` runs the system's OpenSSH client (exec) against the machine's public IP,
// instead of fleet's built-in Go SSH client: same lookups and messages, OpenSSH's
// authentication (agent or keys) and known_hosts handling.
#include <cmath>

#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

struct Lookup {
  std::string addr;
  bool found = false;
};

Result<Lookup> machine_address(CommandContext& ctx, const std::string& prefix) {
  BOOST_OUTCOME_TRY(auto machines, ctx.api->list_machines());
  const api::Machine* match = nullptr;
  for (const auto& m : machines) {
    if (!m.id.starts_with(prefix)) continue;
    if (match) return fail(Errc::invalid_argument, "found more than one machine");
    match = &m;
  }
  if (!match) return fail(Errc::not_found, "machine does not exist");
  return Lookup{match->primary_ip, true};
}

Result<Lookup> unit_address(CommandContext& ctx, const std::string& arg) {
  std::string name = mangle_unit_name(arg);
  BOOST_OUTCOME_TRY(auto unit, ctx.api->get_unit(name));
  if (!unit) return fail(Errc::not_found, "unit does not exist");
  if (api::is_global(*unit)) return fail(Errc::invalid_argument, "global units unsupported");
  auto m = cached_machine(ctx, unit->machine_id);
  if (m && !m->primary_ip.empty()) return Lookup{m->primary_ip, true};
  return Lookup{};
}

Result<std::string> lookup_either(CommandContext& ctx, const std::string& arg) {
  auto machine = machine_address(ctx, arg);
  auto unit = unit_address(ctx, arg);
  bool machine_ok = machine && machine.value().found;
  bool unit_ok = unit && unit.value().found;
  if (machine_ok && unit_ok) {
    return fail(Errc::invalid_argument,
                "ambiguous argument, both machine and unit found for `" + arg +
                    "`.\nPlease use flag `-m` or `-u` to refine the search");
  }
  if (machine_ok) return machine.value().addr;
  if (unit_ok) return unit.value().addr;
  return fail(Errc::not_found, "could not find matching unit or machine");
}

std::string seconds(double s) {
  return std::to_string(static_cast<long>(std::ceil(s > 0 ? s : 1)));
}

int run(CommandContext& ctx) {
  std::string machine = ctx.flags.str("machine");
  std::string unit = ctx.flags.str("unit");
  if (!machine.empty() && !unit.empty()) {
    ctx.io.err << "Both machine and unit flags provided, please specify only one.\n";
    return kExitFailure;
  }
  std::vector<std::string> command = ctx.args;
  Result<std::string> addr = std::string();
  if (!machine.empty()) {
    auto r = machine_address(ctx, machine);
    addr = r ? Result<std::string>(r.value().addr) : Result<std::string>(r.error());
  } else if (!unit.empty()) {
    auto r = unit_address(ctx, unit);
    addr = r ? Result<std::string>(r.value().addr) : Result<std::string>(r.error());
  } else if (command.empty()) {
    addr = fail(Errc::invalid_argument, "one machine or unit must be provided");
  } else {
    addr = lookup_either(ctx, command.front());
    command.erase(command.begin());
  }
  if (!addr) {
    ctx.io.err << "Unable to proceed: " << addr.error().message << "\n";
    return kExitFailure;
  }
  if (addr.value().empty()) {
    ctx.io.err << "Could not determine address of machine.\n";
    return kExitFailure;
  }
  const GlobalOptions& g = ctx.global;
  std::vector<std::string> argv = {"ssh", "-l", g.ssh_username};
  long port = static_cast<long>(ctx.flags.integer("ssh-port"));
  if (port != 22) argv.insert(argv.end(), {"-p", std::to_string(port)});
  if (ctx.flags.boolean("forward-agent")) argv.push_back("-A");
  argv.insert(argv.end(), {"-o", "ConnectTimeout=" + seconds(g.ssh_timeout)});
  if (g.strict_host_key_checking) {
    // OpenSSH's `ask` behaves like fleet: prompt for unknown hosts, refuse changed keys.
    argv.insert(argv.end(), {"-o", "StrictHostKeyChecking=ask"});
    std::string known = g.known_hosts_file;
    if (known.empty()) known = ctx.sys.getenv("HOME").value_or("") + "/.fleetctl/known_hosts";
    argv.insert(argv.end(), {"-o", "UserKnownHostsFile=" + known});
  } else {
    argv.insert(argv.end(),
                {"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"});
  }
  if (!g.tunnel.empty()) argv.insert(argv.end(), {"-J", g.ssh_username + "@" + g.tunnel});
  if (command.empty() && ctx.sys.stdin_is_terminal()) argv.push_back("-t");
  argv.push_back(addr.value());
  if (!command.empty()) {
    std::string joined;
    for (const auto& a : command) joined += (joined.empty() ? "" : " ") + a;
    argv.push_back("--");
    argv.push_back(joined);
  }
  Error err = ctx.sys.exec(argv);
  ctx.io.err << "Failed building SSH client: " << err.message << "\n";
  return kExitFailure;
}

}  // namespace

Command ssh_command() {
  Command c;
  c.name = "ssh";
  c.usage = "[--machine=ID|--unit=NAME] [--forward-agent|-A] [MACHINE|UNIT] [COMMAND...]";
  c.summary = "Open interactive shell on a machine in the cluster";
  c.description =
      "Open an interactive shell on a machine in the cluster, or run a command there, with the "
      "system's ssh client (OpenSSH) as --ssh-username.\n\nOpen a shell on a machine:\n\t"
      "fleetctl ssh 2444264c-eac2-4eff-a490-32d5e5e4af24\n\nOpen a shell on the machine of a "
      "unit:\n\tfleetctl ssh example.service\n\nRun a command:\n\tfleetctl ssh --unit=foo.service "
      "-- uptime";
  FlagSpec agent{"forward-agent", FlagType::boolean, "",
                 "Forward local ssh-agent to target machine."};
  agent.shorthand = 'A';
  agent.aliases = {"A"};
  FlagSpec machine{"machine", FlagType::string, "", "Open SSH connection to a specific machine."};
  machine.shorthand = 'm';
  FlagSpec unit{"unit", FlagType::string, "",
                "Open SSH connection to machine running provided unit."};
  unit.shorthand = 'u';
  c.flags = {agent, machine, ssh_port_flag(), unit};
  c.interspersed = false;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
