#include "fleetctl/desired_states.h"

#include <map>
#include <set>
#include <utility>

#include "fleetctl/registered_units.h"
#include "fleetctl/unit_creation.h"

namespace fleet::fleetctl {

namespace {

// Many names: the listing tells which units need a change and one batch request makes them all
// (two etcd round trips per unit were most of `fleetctl start` of 500 units). Unlike fleet, an
// unknown unit is reported before anything is changed.
Result<std::vector<api::Unit>> set_target_states_batched(CommandContext& ctx,
                                                         const std::vector<std::string>& names,
                                                         std::string_view state,
                                                         const UnitIndex& index) {
  std::vector<api::Unit> changed;
  std::vector<std::pair<std::string, std::string>> changes;
  std::set<std::string_view> seen;
  for (const auto& name : names) {
    auto it = index.find(name);
    if (it == index.end()) return make_error(Errc::invalid_argument, "unable to find unit " + name);
    if (it->second.desired_state == state || !seen.insert(it->first).second) continue;
    changes.emplace_back(name, std::string(state));
    changed.push_back(it->second);
  }
  if (changes.empty()) return changed;
  BOOST_OUTCOME_TRY(auto statuses, ctx.api->set_desired_states(changes));
  for (auto& st : statuses)
    if (!st) return st.error();
  return changed;
}

}  // namespace

void request_states(CommandContext& ctx, const std::vector<std::string>& names,
                    std::string_view state) {
  if (names.size() < kManyUnits) {
    for (const auto& n : names) (void)ctx.api->set_desired_state(n, state);
    return;
  }
  std::vector<std::pair<std::string, std::string>> changes;
  for (const auto& n : names) changes.emplace_back(n, std::string(state));
  (void)ctx.api->set_desired_states(changes);
}

Result<std::vector<api::Unit>> set_target_states(CommandContext& ctx,
                                                 const std::vector<std::string>& names,
                                                 std::string_view state) {
  if (auto index = index_registered_units(ctx, names.size(), /*summaries=*/true))
    return set_target_states_batched(ctx, names, state, *index);
  // Few units (or the listing failed): fleet's way, a GET and a PUT per unit, stopping at the
  // first error.
  std::vector<api::Unit> triggered;
  for (const auto& name : names) {
    auto got = ctx.api->get_unit(name);
    if (!got)
      return make_error(Errc::invalid_argument,
                        "error retrieving unit " + name + " from registry: " + got.error().message);
    if (!got.value()) return make_error(Errc::invalid_argument, "unable to find unit " + name);
    const api::Unit& u = *got.value();
    if (u.desired_state == state) continue;
    BOOST_OUTCOME_TRY(ctx.api->set_desired_state(u.name, state));
    triggered.push_back(u);
  }
  return triggered;
}

std::optional<std::vector<std::string>> create_and_trigger(CommandContext& ctx,
                                                           std::string_view state,
                                                           std::string_view verb,
                                                           std::string_view doing, int* exit) {
  *exit = kExitOk;
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return std::nullopt;
  }
  *exit = kExitFailure;
  auto created = create_units(ctx, state);
  if (!created) {
    ctx.io.err << "Error creating units: " << created.error().message << "\n";
    return std::nullopt;
  }
  // Units created in `state` already need no change; the others are set now.
  std::map<std::string, api::Unit> in_state;
  for (auto& u : created.value()) {
    std::string name = u.name;
    in_state.emplace(std::move(name), std::move(u));
  }
  std::vector<std::string> names;
  for (const auto& a : ctx.args)
    if (auto n = mangle_unit_name(a); !in_state.contains(n)) names.push_back(std::move(n));
  auto changed = set_target_states(ctx, names, state);
  if (!changed) {
    ctx.io.err << "Error " << doing << " units: " << changed.error().message << "\n";
    return std::nullopt;
  }
  // In argument order, each unit once.
  std::map<std::string, api::Unit> by_name = std::move(in_state);
  for (auto& u : changed.value()) {
    std::string name = u.name;
    by_name.emplace(std::move(name), std::move(u));
  }
  std::vector<api::Unit> triggered;
  for (const auto& a : ctx.args)
    if (auto it = by_name.find(mangle_unit_name(a)); it != by_name.end()) {
      triggered.push_back(std::move(it->second));
      by_name.erase(it);
    }
  std::vector<std::string> waiting;
  for (const auto& u : triggered) {
    if (api::is_global(u)) {
      ctx.io.out << "Triggered global unit " << u.name << " " << verb << "\n";
    } else {
      waiting.push_back(u.name);
    }
  }
  *exit = kExitOk;
  return waiting;
}

}  // namespace fleet::fleetctl
