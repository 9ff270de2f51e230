#include "fleetctl/command.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  if (ctx.args.size() != 1) {
    ctx.io.err << "One unit file must be provided.\n";
    return kExitFailure;
  }
  std::string name = mangle_unit_name(ctx.args[0]);
  auto got = ctx.api->get_unit(name);
  if (!got) {
    ctx.io.err << "Error retrieving unit " << name << ": " << got.error().message << "\n";
    return kExitFailure;
  }
  if (!got.value()) {
    ctx.io.err << "Unit " << name << " does not exist.\n";
    return kExitFailure;
  }
  const api::Unit& u = *got.value();
  if (api::is_global(u)) {
    ctx.io.err << "Unable to retrieve journal of global unit " << name << ".\n";
    return kExitFailure;
  }
  if (u.current_state == api::kStateInactive) {
    ctx.io.err << "Unit " << name << " does not appear to be running.\n";
    return kExitFailure;
  }
  api::JournalOptions opts;
  opts.lines = static_cast<int>(ctx.flags.integer("lines"));
  opts.follow = ctx.flags.boolean("follow");
  opts.output = ctx.flags.str("output");
  opts.sudo = ctx.flags.boolean("sudo");
  auto res = ctx.api->unit_journal(name, opts, [&](std::string_view chunk) {
    ctx.io.out << chunk;
    ctx.io.out.flush();
    return static_cast<bool>(ctx.io.out);
  });
  if (!res) {
    ctx.io.err << "Error retrieving journal of unit " << name << ": " << res.error().message
               << "\n";
    return kExitFailure;
  }
  return res.value().exit_code;
}

}  // namespace

Command journal_command() {
  Command c;
  c.name = "journal";
  c.usage = "[--lines=N] [--follow|-f] [--output=MODE] UNIT";
  c.summary = "Print the journal of a unit in the cluster to stdout";
  c.description =
      "Outputs the journal of a unit from the machine it runs on, fetched through the fleet API "
      "(no SSH needed).\n\nRead the last 10 lines:\n\tfleetctl journal foo.service\n\nRead the "
      "last 100 lines:\n\tfleetctl journal --lines 100 foo.service\n\nFollow the journal:\n\t"
      "fleetctl journal -f foo.service";
  FlagSpec follow{"follow", FlagType::boolean, "",
                  "Continuously print new entries as they are appended to the journal."};
  follow.shorthand = 'f';
  follow.aliases = {"f"};
  FlagSpec port = ssh_port_flag();
  port.hidden = true;
  c.flags = {
      follow,
      {"lines", FlagType::integer, "10", "Number of recent log lines to return."},
      {"output", FlagType::string, "short", "Output mode (journalctl --output)."},
      port,
      {"sudo", FlagType::boolean, "", "Execute journal command with sudo"},
  };
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
