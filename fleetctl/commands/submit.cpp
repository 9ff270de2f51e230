#include "fleetctl/command.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return kExitOk;
  }
  if (auto st = create_units(ctx); !st) {
    ctx.io.err << "Error creating units: " << st.error().message << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Command submit_command() {
  Command c;
  c.name = "submit";
  c.usage = "[--replace] UNIT...";
  c.summary = "Upload one or more units to the cluster without starting them";
  c.description =
      "Upload one or more units to the cluster without starting them. Useful for validating "
      "units before they are started.\n\nThis operation is idempotent; if a named unit already "
      "exists in the cluster, it will not be resubmitted (unless --replace is given).\n\n"
      "Submit a single unit:\n\tfleetctl submit foo.service\n\nSubmit a directory of units "
      "with glob matching:\n\tfleetctl submit myservice/*";
  c.flags = {replace_flag(), sign_flag()};
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
