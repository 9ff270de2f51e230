#include "fleetctl/unit_creation.h"

#include <algorithm>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fleetctl/registered_units.h"
#include "fleetctl/unit_files.h"
#include "fleetctl/unit_results.h"
#include "fleetctl/unit_waiting.h"

namespace fleet::fleetctl {

namespace {

// Whether --replace may re-create a unit in its current desired state (fleet's
// checkReplaceUnitState).
Result<bool> replace_allowed(CommandContext& ctx, const api::Unit& u) {
  std::vector<std::string_view> allowed;
  if (ctx.command == "submit") {
    allowed = {api::kStateInactive};
  } else if (ctx.command == "load") {
    allowed = {api::kStateInactive, api::kStateLoaded};
  } else if (ctx.command == "start") {
    allowed = {api::kStateInactive, api::kStateLoaded, api::kStateLaunched};
  } else {
    return fail(Errc::invalid_argument, "error: unable to proceed unknown command");
  }
  if (std::find(allowed.begin(), allowed.end(), u.desired_state) != allowed.end()) return true;
  ctx.io.err << "Warning: can not replace Unit(" << u.name << ") in state '" << u.desired_state
             << "', use the appropriate command\n";
  return false;
}

// fleet's checkUnitCreation: true when the unit must be (re-)created. A registered unit that is
// replaced keeps its desired state: `keep` gets it.
Result<bool> needs_creation(CommandContext& ctx, const std::string& path, const std::string& name,
                            bool replace, const std::optional<UnitIndex>& index,
                            std::string& keep) {
  auto existing = registered_unit(ctx, name, index);
  if (!existing) {
    return fail(Errc::invalid_argument,
                "error retrieving Unit(" + name + ") from Registry: " + existing.error().message);
  }
  if (!existing.value()) return true;
  const api::Unit& su = *existing.value();
  auto different = is_local_unit_different(ctx, path, su, replace);
  if (!replace) return false;  // comparison errors only matter with --replace
  if (!different) return different.error();
  if (different.value()) {
    keep = su.desired_state;
    return replace_allowed(ctx, su);
  }
  ctx.io.out << "Found same Unit(" << su.name << ") in Registry, nothing to do\n";
  return false;
}

// The API unit for `name`, after fleetctl's own checks (name, options, a warning per unknown
// [X-Fleet] key).
Result<api::Unit> unit_for(CommandContext& ctx, const std::string& name, const Options& options) {
  if (auto st = validate_unit_name(name); !st) return st.error();
  if (auto st = ctx.units.validate(options); !st) return st.error();
  for (const auto& key : unknown_xfleet_keys(options)) {
    ctx.io.err << "Unit " << name << ": unrecognized requirement in [X-Fleet] section: \"" << key
               << "\"\n";
  }
  api::Unit u;
  u.name = name;
  u.options = options;
  return u;
}

Status creation_failed(const std::string& name, const Error& e) {
  return fail(Errc::invalid_argument, "failed creating unit " + name + ": " + e.message);
}

// One argument's unit, unless it is registered already (a replacement has `replaces` set).
struct Creation {
  api::Unit unit;
  bool replaces = false;
};

Result<std::optional<Creation>> creation_for(CommandContext& ctx, const std::string& arg,
                                             const std::string& name, bool replace,
                                             const std::optional<UnitIndex>& index) {
  std::string path = append_default_unit_type(arg);
  std::string keep;
  BOOST_OUTCOME_TRY(bool create, needs_creation(ctx, path, name, replace, index, keep));
  if (!create) return std::optional<Creation>();
  BOOST_OUTCOME_TRY(auto options, unit_options_for(ctx, path, name, replace));
  BOOST_OUTCOME_TRY(auto unit, unit_for(ctx, name, options));
  // A replacement carries the unit's current desired state. Without one the server answered
  // `409 must provide DesiredState to update existing unit` when the local file differed from
  // the registered one only in what the canonical form drops, so the content hash was the same.
  unit.desired_state = keep;
  // With --replace the unit may be registered (needs_creation said its content differs);
  // without a listing that is not known.
  bool registered = replace && (!index || index->contains(name));
  return std::optional<Creation>(Creation{std::move(unit), registered});
}

// What send() created: units created in their final state (the batch path), and units created
// inactive, still to be waited for.
struct Created {
  std::vector<api::Unit> in_state;
  std::vector<std::string> inactive;
};

// Sends the creations in argument order, stopping at the first failure. Many new units go in
// batch requests (one per chunk instead of one per unit) carrying `state` as their desired state,
// so that they need no second request to get there; replacements are PUTs of their own carrying
// the unit's current desired state, and single new units carry none (fleet's way: created
// inactive, then changed).
Status send(CommandContext& ctx, const std::vector<Creation>& creations, std::string_view state,
            Created& created) {
  std::vector<api::Unit> fresh;
  for (const auto& c : creations)
    if (!c.replaces) fresh.push_back(c.unit);
  const bool batched = fresh.size() >= kManyUnits;
  if (batched) {
    for (auto& u : fresh) u.desired_state = std::string(state);
    auto statuses = ctx.api->create_units(fresh);
    if (!statuses) {
      auto failed = creation_failed(fresh.front().name, statuses.error());
      record_unit_error(ctx, fresh.front().name, failed.error().message);
      return failed;
    }
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      if (!statuses.value()[i]) {
        auto failed = creation_failed(fresh[i].name, statuses.value()[i].error());
        record_unit_error(ctx, fresh[i].name, failed.error().message);
        return failed;
      }
      if (state == api::kStateInactive) {
        created.inactive.push_back(fresh[i].name);
      } else {
        created.in_state.push_back(fresh[i]);
      }
    }
  }
  for (const auto& c : creations) {
    if (batched && !c.replaces) continue;
    if (auto st = ctx.api->create_unit(c.unit); !st) {
      auto failed = creation_failed(c.unit.name, st.error());
      record_unit_error(ctx, c.unit.name, failed.error().message);
      return failed;
    }
    // A replaced unit that kept a loaded or launched state is not waited for as inactive.
    if (c.unit.desired_state.empty() || c.unit.desired_state == api::kStateInactive)
      created.inactive.push_back(c.unit.name);
  }
  return ok();
}

}  // namespace

Result<std::vector<api::Unit>> create_units(CommandContext& ctx, std::string_view state) {
  bool replace = ctx.flags.boolean("replace");
  const std::optional<UnitIndex> index = index_registered_units(ctx, ctx.args.size());
  std::vector<Creation> creations;
  std::set<std::string> named;  // a unit named twice is created once
  std::optional<Error> failure;
  for (const auto& arg : ctx.args) {
    std::string name = mangle_unit_name(arg);
    if (!named.insert(name).second) continue;
    auto c = creation_for(ctx, arg, name, replace, index);
    if (!c) {
      record_unit_error(ctx, name, c.error().message);
      failure = c.error();
      break;
    }
    if (c.value()) creations.push_back(std::move(*c.value()));
  }
  // As in fleet, the units before a failing argument are created all the same, but inactive:
  // the command fails and changes no state.
  Created created;
  const std::string_view initial = failure ? api::kStateInactive : state;
  if (auto st = send(ctx, creations, initial, created); !st) return st.error();
  if (failure) return *failure;
  // fleet waits for creation even with --no-block (its attempts -1 means "no limit" here).
  int attempts = std::max(block_attempts(ctx.flags), 0);
  auto failures = wait_states(ctx, created.inactive, api::kStateInactive, attempts);
  for (const auto& f : failures)
    ctx.io.err << "Error waiting on unit creation: " << f.message << "\n";
  if (!failures.empty()) return fail(Errc::invalid_argument, "One or more errors creating units");
  return std::move(created.in_state);
}

}  // namespace fleet::fleetctl
