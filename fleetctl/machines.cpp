#include "fleetctl/machines.h"

#include <vector>

namespace fleet::fleetctl {

std::string machine_legend(const api::Machine& m, bool full) {
  std::string legend = full ? m.id : m.id.substr(0, 8) + "...";
  if (!m.primary_ip.empty()) legend += "/" + m.primary_ip;
  return legend;
}

std::optional<api::Machine> cached_machine(CommandContext& ctx, const std::string& id) {
  if (!ctx.machine_cache) {
    auto ms = ctx.api->list_machines();
    ctx.machine_cache = ms ? ms.value() : std::vector<api::Machine>{};
  }
  for (const auto& m : *ctx.machine_cache) {
    if (m.id == id) return m;
  }
  return std::nullopt;
}

std::optional<api::Machine> resolve_machine(CommandContext& ctx, const std::string& arg) {
  if (!ctx.machine_cache) {
    auto machines = ctx.api->list_machines();
    if (!machines) {
      ctx.io.err << "Error retrieving list of active machines: " << machines.error().message
                 << "\n";
      return std::nullopt;
    }
    ctx.machine_cache = machines.value();
  }
  std::vector<api::Machine> matches;
  for (const auto& m : *ctx.machine_cache) {
    if (m.id == arg || m.primary_ip == arg) return m;
    if (!arg.empty() && m.id.starts_with(arg)) matches.push_back(m);
  }
  if (matches.size() == 1) return matches.front();
  if (matches.empty()) {
    ctx.io.err << "Machine " << arg << " not found\n";
  } else {
    ctx.io.err << "Machine " << arg << " is ambiguous: matches " << matches.size() << " machines\n";
  }
  return std::nullopt;
}

}  // namespace fleet::fleetctl
