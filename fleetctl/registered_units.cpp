#include "fleetctl/registered_units.h"

#include <algorithm>

#include "fleetctl/unit_results.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

std::optional<UnitIndex> index_registered_units(CommandContext& ctx, std::size_t count,
                                                bool summaries) {
  if (count < kManyUnits) return std::nullopt;
  auto all = summaries ? ctx.api->list_unit_summaries() : ctx.api->list_units();
  if (!all) return std::nullopt;
  UnitIndex index;
  for (auto& u : all.value()) {
    std::string name = u.name;
    index.emplace(std::move(name), std::move(u));
  }
  return index;
}

Result<std::optional<api::Unit>> registered_unit(CommandContext& ctx, const std::string& name,
                                                 const std::optional<UnitIndex>& index) {
  if (!index) return ctx.api->get_unit(name);
  auto it = index->find(name);
  if (it == index->end()) return std::optional<api::Unit>();
  return std::optional<api::Unit>(it->second);
}

Result<std::vector<api::Unit>> find_units(CommandContext& ctx) {
  BOOST_OUTCOME_TRY(auto units, ctx.api->list_units());
  std::vector<api::Unit> found;
  for (const auto& arg : ctx.args) {
    std::string name = mangle_unit_name(arg);
    auto it = std::find_if(units.begin(), units.end(),
                           [&](const api::Unit& u) { return u.name == name; });
    if (it == units.end()) {
      ctx.io.err << "Unit " << name << " not found in registry, skipping\n";
      record_unit_error(ctx, name, "not found in registry");
      continue;
    }
    found.push_back(*it);
  }
  return found;
}

std::optional<std::vector<api::Unit>> registered_units_or_report(CommandContext& ctx, int* exit) {
  *exit = kExitOk;
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return std::nullopt;
  }
  auto units = find_units(ctx);
  if (!units) {
    ctx.io.err << units.error().message << "\n";
    *exit = kExitFailure;
    return std::nullopt;
  }
  if (units.value().empty()) {
    ctx.io.err << "Units not found in registry\n";
    return std::nullopt;
  }
  return std::move(units).value();
}

}  // namespace fleet::fleetctl
