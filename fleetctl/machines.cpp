#include "fleetctl/machines.h"

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

}  // namespace fleet::fleetctl
