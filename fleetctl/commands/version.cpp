#include "common/version.h"

#include "fleetctl/cli.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

namespace {

int run_version(CommandContext& ctx) {
  ctx.io.out << "fleetctl version " << fleet::version() << "\n";
  return kExitOk;
}

int run_verify(CommandContext& ctx) {
  ctx.io.err << "Command \"verify\" is deprecated, DEPRECATED - No longer works\n";
  ctx.io.err << kSignDeprecated << "\n";
  return kExitDeprecated;
}

int run_help(CommandContext& ctx) {
  if (ctx.args.empty()) {
    print_root_help(ctx.io.out);
    return kExitOk;
  }
  const Command* c = find_command(ctx.args[0]);
  if (c == nullptr) {
    ctx.io.err << "Unknown help topic " << ctx.args[0] << "\n";
    print_root_help(ctx.io.err);
    return kExitFailure;
  }
  print_command_help(ctx.io.out, *c);
  return kExitOk;
}

}  // namespace

Command version_command() {
  Command c;
  c.name = "version";
  c.summary = "Print the version and exit";
  c.description = "Print the version of fleetctl and exit.";
  c.needs_api = false;
  c.run = &run_version;
  return c;
}

Command verify_command() {
  Command c;
  c.name = "verify";
  c.usage = "UNIT";
  c.summary = "DEPRECATED - No longer works";
  c.description = "The signed/verified units feature was removed from fleet.";
  c.needs_api = false;
  c.hidden = true;
  c.run = &run_verify;
  return c;
}

Command help_command() {
  Command c;
  c.name = "help";
  c.usage = "[COMMAND]";
  c.summary = "Show a list of commands or help for one command";
  c.description = "Show a list of commands or detailed help for one command.";
  c.needs_api = false;
  c.run = &run_help;
  return c;
}

}  // namespace fleet::fleetctl
