#include <algorithm>
#include <nlohmann/json.hpp>

#include "fleetctl/command.h"
#include "fleetctl/listing.h"
#include "fleetctl/unit_actions.h"

namespace fleet::fleetctl {

namespace {

std::string metadata_text(const std::map<std::string, std::string>& md) {
  if (md.empty()) return "-";
  std::string out;
  for (const auto& [k, v] : md) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

int run(CommandContext& ctx) {
  auto listing = parse_listing(ctx, {"machine", "ip", "metadata", "state"});
  if (!listing) return kExitFailure;
  auto machines = ctx.api->list_machines();
  if (!machines) {
    const std::string& why = machines.error().message;
    ctx.io.err << "Error retrieving list of active machines from fleet API (" << why << ")\n";
    // fleet blamed etcd whatever failed; that is only right when fleetd answered that its
    // registry is unavailable. Connection failures already say what failed.
    if (why.starts_with("googleapi: Error 503")) {
      ctx.io.err << "Possible issues:\n"
                 << "  etcd is unhealthy and/or lost quorum\n"
                 << "  connection cannot be established to any etcd servers\n";
    }
    return kExitFailure;
  }
  const auto& ms = machines.value();
  // fleet's table unchanged in normal operation; during maintenance the default shows why.
  if (!ctx.flags.changed("fields") && std::any_of(ms.begin(), ms.end(), [](const api::Machine& m) {
        return !m.maintenance.empty();
      }))
    listing->columns.push_back("state");
  if (listing->format == ListingFormat::json) {
    ctx.io.out << nlohmann::json(ms).dump() << "\n";
    return kExitOk;
  }
  print_table(ctx, *listing, ms.size(), [&](std::size_t r, const std::string& col) -> std::string {
    const api::Machine& m = ms[r];
    if (col == "machine") return listing->full ? m.id : m.id.substr(0, 8) + "...";
    if (col == "ip") return m.primary_ip.empty() ? "-" : m.primary_ip;
    if (col == "state") return m.maintenance.empty() ? "-" : m.maintenance;
    return metadata_text(m.metadata);
  });
  return kExitOk;
}

}  // namespace

Command list_machines_command() {
  Command c;
  c.name = "list-machines";
  c.usage = "[--full|-l] [--no-legend] [--fields=...] [--format=table|json]";
  c.summary = "Enumerate the current hosts in the cluster";
  c.description =
      "Lists all active machines within the cluster. Previously active machines will not appear "
      "in this list.\n\nFields: machine, ip, metadata, state (cordoned, draining or -; shown by "
      "default "
      "while any machine is cordoned or draining).\n\nFor easily parsable output, you can "
      "remove the column headers:\n\tfleetctl list-machines --no-legend";
  c.flags = listing_flags("machine,ip,metadata");
  c.flags.push_back(full_flag(true));
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
