#include "fleetd/config/reload.h"

namespace fleet::fleetd {

bool reloadable_key(std::string_view key) { return key == "verbosity" || key == "token_limit"; }

ReloadPlan plan_reload(const Config& running, const Config& fresh) {
  ReloadPlan plan;
  plan.next = running;
  for (const auto& key : config_keys()) {
    if (format_value(running, key) == format_value(fresh, key)) continue;
    if (reloadable_key(key.name)) {
      plan.applied.emplace_back(key.name);
    } else {
      plan.need_restart.emplace_back(key.name);
    }
  }
  plan.next.verbosity = fresh.verbosity;
  plan.next.token_limit = fresh.token_limit;
  return plan;
}

}  // namespace fleet::fleetd
