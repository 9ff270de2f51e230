#include "fleetctl/command.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  if (ctx.args.size() != 1) {
    ctx.io.err << "One unit file must be provided\n";
    return kExitFailure;
  }
  std::string name = mangle_unit_name(ctx.args[0]);
  auto got = ctx.api->get_unit(name);
  if (!got) {
    ctx.io.err << "Error retrieving Unit " << name << ": " << got.error().message << "\n";
    return kExitFailure;
  }
  if (!got.value()) {
    ctx.io.err << "Unit " << name << " not found\n";
    return kExitFailure;
  }
  ctx.io.out << serialize_unit(got.value()->options);
  return kExitOk;
}

}  // namespace

Command cat_command() {
  Command c;
  c.name = "cat";
  c.usage = "UNIT";
  c.summary = "Output the contents of a submitted unit";
  c.description =
      "Outputs the unit file that is currently loaded in the cluster, in fleet's canonical form "
      "(comments and blank lines of the submitted file are not kept). Useful to verify the "
      "correct version of a unit is running.";
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
