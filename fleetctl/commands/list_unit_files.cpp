#include <nlohmann/json.hpp>

#include "fleetctl/command.h"
#include "fleetctl/listing.h"
#include "fleetctl/unit_actions.h"
#include "fleetctl/unit_patterns.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  auto listing = parse_listing(
      ctx, {"unit", "hash", "dstate", "state", "target", "tmachine", "global", "desc", "reason"});
  if (!listing) return kExitFailure;
  if (std::find(listing->columns.begin(), listing->columns.end(), "tmachine") !=
      listing->columns.end()) {
    ctx.io.err << "WARNING: The \"tmachine\" field is deprecated. Use \"target\" instead\n";
  }
  // The table needs no options: the basic view sends each unit's hash, Global flag and
  // description instead (at 10,000 units the options were most of the bytes, and decoding and
  // hashing them most of fleetctl's time). JSON output prints whole units.
  auto units = listing->format == ListingFormat::json ? ctx.api->list_units()
                                                      : ctx.api->list_unit_summaries();
  if (!units) {
    ctx.io.err << "Error retrieving list of units from repository: " << units.error().message
               << "\n";
    return kExitFailure;
  }
  const auto us = named_by_arguments(ctx, std::move(units).value());
  if (listing->format == ListingFormat::json) {
    ctx.io.out << nlohmann::json(us).dump() << "\n";
    return kExitOk;
  }
  // Once per unit, not once per cell: each check scans the unit's options. A unit in the basic
  // view (`global` set) carries what the options would give; a server without that view sends
  // options.
  std::vector<bool> globals(us.size());
  for (std::size_t r = 0; r < us.size(); ++r) globals[r] = api::is_global(us[r]);
  print_table(ctx, *listing, us.size(), [&](std::size_t r, const std::string& col) -> std::string {
    const api::Unit& u = us[r];
    const bool global = globals[r];
    if (col == "unit") return u.name;
    if (col == "hash") {
      std::string h = u.global ? u.hash : unit_hash(u.options);
      return listing->full ? h : h.substr(0, 7);
    }
    if (col == "dstate") return u.desired_state.empty() ? "-" : u.desired_state;
    if (col == "state") return global || u.current_state.empty() ? "-" : u.current_state;
    if (col == "global") return global ? "true" : "false";
    // Beyond fleet: why the engine cannot place the unit.
    if (col == "reason") return u.reason.empty() ? "-" : u.reason;
    if (col == "desc") {
      std::string d = u.global ? u.description : unit_description(u.options);
      return d.empty() ? "-" : d;
    }
    // target / tmachine
    if (global) return "global";
    if (u.machine_id.empty()) return "-";
    auto m = cached_machine(ctx, u.machine_id);
    return machine_legend(m ? *m : api::Machine{u.machine_id, "", {}, ""}, listing->full);
  });
  return kExitOk;
}

}  // namespace

Command list_unit_files_command() {
  Command c;
  c.name = "list-unit-files";
  c.usage = "[--full] [--no-legend] [--fields=...] [--format=table|json] [PATTERN...]";
  c.summary = "List the units that exist in the cluster.";
  c.description =
      "Lists all unit files that exist in the cluster (whether or not they are loaded onto a "
      "machine).\n\nWith PATTERN arguments, only the units they name: unit names or globs "
      "('web@1*', "
      "'*.timer').\n\nFields: unit, hash, dstate, state, target, global, desc, reason (why the "
      "engine cannot schedule the unit; tmachine is a deprecated alias of target).";
  c.flags = listing_flags("unit,hash,dstate,state,target");
  c.flags.push_back(full_flag(false));
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
