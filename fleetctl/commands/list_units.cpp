#include <nlohmann/json.hpp>

#include "fleetctl/command.h"
#include "fleetctl/listing.h"
#include "fleetctl/unit_actions.h"
#include "fleetctl/unit_patterns.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  auto listing = parse_listing(ctx, {"unit", "load", "active", "sub", "machine", "hash"});
  if (!listing) return kExitFailure;
  auto states = ctx.api->list_unit_states({});
  if (!states) {
    ctx.io.err << "Error retrieving list of units from repository: " << states.error().message
               << "\n";
    return kExitFailure;
  }
  const auto ss = named_by_arguments(ctx, std::move(states).value());
  if (listing->format == ListingFormat::json) {
    ctx.io.out << nlohmann::json(ss).dump() << "\n";
    return kExitOk;
  }
  print_table(ctx, *listing, ss.size(), [&](std::size_t r, const std::string& col) -> std::string {
    const api::UnitState& s = ss[r];
    if (col == "unit") return s.name;
    if (col == "load") return s.systemd_load_state;
    if (col == "active") return s.systemd_active_state;
    if (col == "sub") return s.systemd_sub_state;
    if (col == "hash") {
      if (s.hash.empty()) return "-";
      return listing->full ? s.hash : s.hash.substr(0, 7);
    }
    // machine
    if (s.machine_id.empty()) return "-";
    auto m = cached_machine(ctx, s.machine_id);
    return machine_legend(m ? *m : api::Machine{s.machine_id, "", {}, ""}, listing->full);
  });
  return kExitOk;
}

}  // namespace

Command list_units_command() {
  Command c;
  c.name = "list-units";
  c.usage = "[--full|-l] [--no-legend] [--fields=...] [--format=table|json] [PATTERN...]";
  c.summary = "List the current state of units in the cluster";
  c.description =
      "Lists the state of all units in the cluster loaded onto a machine: one line per unit and "
      "machine.\n\nWith PATTERN arguments, only the units they name: unit names or globs "
      "('web@1*', "
      "'*.timer').\n\nFields: unit, load, active, sub, machine, hash.\n\nFor easily parsable "
      "output, "
      "you can remove the column headers:\n\tfleetctl list-units --no-legend";
  c.flags = listing_flags("unit,machine,active,sub");
  c.flags.push_back(full_flag(true));
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
