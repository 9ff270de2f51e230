#include "fleetctl/unit_creation.h"

#include <algorithm>
#include <optional>
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

// fleet's checkUnitCreation: true when the unit must be (re-)created.
Result<bool> needs_creation(CommandContext& ctx, const std::string& path, const std::string& name,
                            bool replace, const std::optional<UnitIndex>& index) {
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
  if (different.value()) return replace_allowed(ctx, su);
  ctx.io.out << "Found same Unit(" << su.name << ") in Registry, nothing to do\n";
  return false;
}

Status create_one(CommandContext& ctx, const std::string& name, const Options& options) {
  if (auto st = validate_unit_name(name); !st) return st;
  if (auto st = ctx.units.validate(options); !st) return st;
  for (const auto& key : unknown_xfleet_keys(options)) {
    ctx.io.err << "Unit " << name << ": unrecognized requirement in [X-Fleet] section: \"" << key
               << "\"\n";
  }
  api::Unit u;
  u.name = name;
  u.options = options;
  if (auto st = ctx.api->create_unit(u); !st) {
    return fail(Errc::invalid_argument, "failed creating unit " + name + ": " + st.error().message);
  }
  return ok();
}

// One argument's unit, created unless it is registered already: true when it was created.
Result<bool> create_if_needed(CommandContext& ctx, const std::string& arg, const std::string& name,
                              bool replace, const std::optional<UnitIndex>& index) {
  std::string path = append_default_unit_type(arg);
  BOOST_OUTCOME_TRY(bool create, needs_creation(ctx, path, name, replace, index));
  if (!create) return false;
  BOOST_OUTCOME_TRY(auto options, unit_options_for(ctx, path, name, replace));
  BOOST_OUTCOME_TRY(create_one(ctx, name, options));
  return true;
}

}  // namespace

Status create_units(CommandContext& ctx) {
  bool replace = ctx.flags.boolean("replace");
  std::vector<std::string> created;
  const std::optional<UnitIndex> index = index_registered_units(ctx, ctx.args.size());
  for (const auto& arg : ctx.args) {
    std::string name = mangle_unit_name(arg);
    auto create = create_if_needed(ctx, arg, name, replace, index);
    if (!create) {
      record_unit_error(ctx, name, create.error().message);
      return create.error();
    }
    if (create.value()) created.push_back(name);
  }
  // fleet waits for creation even with --no-block (its attempts -1 means "no limit" here).
  int attempts = std::max(block_attempts(ctx.flags), 0);
  auto failures = wait_states(ctx, created, api::kStateInactive, attempts);
  for (const auto& f : failures)
    ctx.io.err << "Error waiting on unit creation: " << f.message << "\n";
  if (!failures.empty()) return fail(Errc::invalid_argument, "One or more errors creating units");
  return ok();
}

}  // namespace fleet::fleetctl
