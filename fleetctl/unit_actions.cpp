#include "fleetctl/unit_actions.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace fleet::fleetctl {

namespace {

constexpr long kPollsPerAttempt = 8;  // 2 s at 250 ms
// Without --block-attempts the systemd check gets this many attempts (fleet gave it one).
constexpr long kSystemdCheckDefaultAttempts = 5;

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir == ".") return name;
  if (dir.ends_with('/')) return dir + name;
  return dir + "/" + name;
}

std::string base_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

auto failed(std::string msg) { return fail(Errc::invalid_argument, std::move(msg)); }

Result<Options> read_unit_file(CommandContext& ctx, const std::string& path) {
  BOOST_OUTCOME_TRY(auto text, ctx.sys.read_file(path));
  return ctx.units.parse(text);
}

// fleet's matchLocalFileAndUnit: true when the local file has the registered content.
Result<bool> match_local_file(CommandContext& ctx, const std::string& path, const api::Unit& su) {
  if (!ctx.sys.file_exists(path)) {
    return fail(Errc::not_found, "stat " + path + ": no such file or directory");
  }
  BOOST_OUTCOME_TRY(auto local, read_unit_file(ctx, path));
  return serialize_unit(local) == serialize_unit(su.options);
}

// fleet's isLocalUnitDifferent: compares with the local file, or for an instance without its
// own file, with the local template file. Warns when they differ and --replace is not given.
Result<bool> is_local_unit_different(CommandContext& ctx, const std::string& path,
                                     const api::Unit& su, bool replace) {
  auto same = match_local_file(ctx, path, su);
  if (same) {
    if (!same.value() && !replace) {
      ctx.io.err << "WARNING: Unit " << su.name << " in registry differs from local unit file "
                 << path << ". Add --replace to override.\n";
    }
    return !same.value();
  }
  auto info = unit_name_info(base_of(path));
  if (!info) return failed("error extracting information from unit name " + path);
  if (!info->is_instance()) {
    return failed("error Unit " + path + " does not seem to be a template unit");
  }
  auto tmpl_same = match_local_file(ctx, join_path(dir_of(path), info->template_name), su);
  if (!tmpl_same) return tmpl_same.error();
  if (!tmpl_same.value() && !replace) {
    ctx.io.err << "WARNING: Unit " << su.name
               << " in registry differs from local template unit file " << path
               << ". Add --replace to override.\n";
  }
  return !tmpl_same.value();
}

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
    return failed("error: unable to proceed unknown command");
  }
  if (std::find(allowed.begin(), allowed.end(), u.desired_state) != allowed.end()) return true;
  ctx.io.err << "Warning: can not replace Unit(" << u.name << ") in state '" << u.desired_state
             << "', use the appropriate command\n";
  return false;
}

// The registered units by name, read once when a command names many units.
using UnitIndex = std::map<std::string, api::Unit>;

// Many arguments: one listing answers every "is it registered?" instead of one GET per unit
// (200 sequential round trips were a third of `fleetctl start` of 200 submitted units). If the
// listing fails, each unit is asked for on its own, with that call's error reporting.

// `count` names to look up: one listing when there are many; nullopt when few or it failed.
std::optional<UnitIndex> index_registered_units(CommandContext& ctx, std::size_t count) {
  if (count < kManyUnits) return std::nullopt;
  auto all = ctx.api->list_units();
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

// fleet's checkUnitCreation: true when the unit must be (re-)created.
Result<bool> needs_creation(CommandContext& ctx, const std::string& path, const std::string& name,
                            bool replace, const std::optional<UnitIndex>& index) {
  auto existing = registered_unit(ctx, name, index);
  if (!existing) {
    return failed("error retrieving Unit(" + name + ") from Registry: " + existing.error().message);
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

Result<Options> options_from_template(CommandContext& ctx, const UnitNameInfo& info,
                                      const std::string& path, bool replace) {
  auto tmpl = ctx.api->get_unit(info.template_name);
  if (!tmpl) {
    return failed("error retrieving template Unit(" + info.template_name +
                  ") from Registry: " + tmpl.error().message);
  }
  if (tmpl.value()) {
    (void)is_local_unit_different(ctx, path, *tmpl.value(), replace);
    return tmpl.value()->options;
  }
  std::string file = join_path(dir_of(path), info.template_name);
  if (!ctx.sys.file_exists(file)) {
    return failed("unable to find template Unit(" + info.template_name +
                  ") in Registry or on filesystem");
  }
  auto opts = read_unit_file(ctx, file);
  if (!opts) {
    return failed("unable to load template Unit(" + info.template_name +
                  ") from file: " + opts.error().message);
  }
  return opts;
}

// fleet's getUnitFile: the local file, else the template of an instance.
Result<Options> unit_options_for(CommandContext& ctx, const std::string& path,
                                 const std::string& name, bool replace) {
  if (ctx.sys.file_exists(path)) {
    auto opts = read_unit_file(ctx, path);
    if (!opts) {
      return failed("failed getting Unit(" + path + ") from file: " + opts.error().message);
    }
    return opts;
  }
  auto info = unit_name_info(name);
  if (!info) return failed("error extracting information from unit name " + name);
  if (!info->is_instance()) {
    return failed("unable to find Unit(" + name + ") in Registry or on filesystem");
  }
  auto opts = options_from_template(ctx, *info, path, replace);
  if (!opts) {
    return failed("failed getting Unit(" + path + ") from template: " + opts.error().message);
  }
  return opts;
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
    return failed("failed creating unit " + name + ": " + st.error().message);
  }
  return ok();
}

struct WaitFailure {
  std::string name;
  std::string message;
};

// Polls every unit still pending once per round, then sleeps; `attempts` (> 0) bounds the
// rounds at 8 per attempt, 0 waits without limit. A unit the engine reports as unschedulable
// fails after one full attempt instead of being waited on forever.
std::vector<WaitFailure> wait_states(CommandContext& ctx, const std::vector<std::string>& names,
                                     std::string_view state, int attempts) {
  std::vector<std::string> pending = names;
  std::vector<WaitFailure> failures;
  bool check_reason = state != api::kStateInactive;
  std::map<std::string, long> errors;  // consecutive failed polls per unit
  for (long polls = 0; !pending.empty();) {
    for (auto it = pending.begin(); it != pending.end();) {
      auto got = ctx.api->get_unit(*it);
      if (!got) {
        // Transient API trouble: keep waiting, as fleet does, but say so once per attempt.
        if (errors[*it]++ % kPollsPerAttempt == 0) {
          ctx.io.err << "Error retrieving Unit(" << *it
                     << ") from Registry: " << got.error().message << "\n";
        }
        ++it;
        continue;
      }
      errors[*it] = 0;
      if (!got.value()) {
        failures.push_back({*it, "unit " + *it + " no longer exists"});
        it = pending.erase(it);
        continue;
      }
      const api::Unit& u = *got.value();
      bool global = api::is_global(u.options);
      const std::string& current = global ? u.desired_state : u.current_state;
      if (current == state) {
        ctx.io.out << "Unit " << u.name << " " << u.current_state;
        if (!u.machine_id.empty()) {
          if (auto m = cached_machine(ctx, u.machine_id)) {
            ctx.io.out << " on " << machine_legend(*m, false);
          }
        }
        ctx.io.out << "\n";
        it = pending.erase(it);
        continue;
      }
      if (check_reason && !u.reason.empty() && polls + 1 >= kPollsPerAttempt) {
        failures.push_back({*it, "unit " + *it + " cannot be scheduled: " + u.reason});
        it = pending.erase(it);
        continue;
      }
      ++it;
    }
    if (pending.empty()) break;
    ++polls;
    if (attempts > 0 && polls >= attempts * kPollsPerAttempt) {
      for (const auto& n : pending) {
        failures.push_back(
            {n, "timed out waiting for unit " + n + " to report state " + std::string(state)});
      }
      break;
    }
    ctx.sys.sleep(ctx.poll_interval);
  }
  return failures;
}

}  // namespace

int block_attempts(const FlagValues& flags) {
  if (flags.boolean("no-block")) return -1;
  long long n = flags.integer("block-attempts");
  return n > 0 ? static_cast<int>(n) : 0;
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
  if (auto st = create_units(ctx); !st) {
    ctx.io.err << "Error creating units: " << st.error().message << "\n";
    return std::nullopt;
  }
  std::vector<std::string> names;
  for (const auto& a : ctx.args) names.push_back(mangle_unit_name(a));
  auto triggered = set_target_states(ctx, names, state);
  if (!triggered) {
    ctx.io.err << "Error " << doing << " units: " << triggered.error().message << "\n";
    return std::nullopt;
  }
  std::vector<std::string> waiting;
  for (const auto& u : triggered.value()) {
    if (api::is_global(u.options)) {
      ctx.io.out << "Triggered global unit " << u.name << " " << verb << "\n";
    } else {
      waiting.push_back(u.name);
    }
  }
  *exit = kExitOk;
  return waiting;
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

int wait_and_report(CommandContext& ctx, const std::vector<std::string>& names,
                    std::string_view verb, std::string_view past, std::string_view state) {
  auto st = wait_for_unit_states(ctx, names, verb, state, block_attempts(ctx.flags));
  if (!st) {
    ctx.io.err << "Failed to " << verb << " units " << go_list(names)
               << ". err: " << st.error().message << "\n";
    return kExitFailure;
  }
  ctx.io.err << "Successfully " << past << " units " << go_list(names) << ".\n";
  return kExitOk;
}

std::string go_list(const std::vector<std::string>& v) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? " " : "") + v[i];
  return out + "]";
}

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

Result<std::vector<api::Unit>> find_units(CommandContext& ctx) {
  BOOST_OUTCOME_TRY(auto units, ctx.api->list_units());
  std::vector<api::Unit> found;
  for (const auto& arg : ctx.args) {
    std::string name = mangle_unit_name(arg);
    auto it = std::find_if(units.begin(), units.end(),
                           [&](const api::Unit& u) { return u.name == name; });
    if (it == units.end()) {
      ctx.io.err << "Unit " << name << " not found in registry, skipping\n";
      continue;
    }
    found.push_back(*it);
  }
  return found;
}

Status create_units(CommandContext& ctx) {
  bool replace = ctx.flags.boolean("replace");
  std::vector<std::string> created;
  const std::optional<UnitIndex> index = index_registered_units(ctx, ctx.args.size());
  for (const auto& arg : ctx.args) {
    std::string path = append_default_unit_type(arg);
    std::string name = mangle_unit_name(arg);
    BOOST_OUTCOME_TRY(bool create, needs_creation(ctx, path, name, replace, index));
    if (!create) continue;
    BOOST_OUTCOME_TRY(auto options, unit_options_for(ctx, path, name, replace));
    BOOST_OUTCOME_TRY(create_one(ctx, name, options));
    created.push_back(name);
  }
  // fleet waits for creation even with --no-block (its attempts -1 means "no limit" here).
  int attempts = std::max(block_attempts(ctx.flags), 0);
  auto failures = wait_states(ctx, created, api::kStateInactive, attempts);
  for (const auto& f : failures)
    ctx.io.err << "Error waiting on unit creation: " << f.message << "\n";
  if (!failures.empty()) return failed("One or more errors creating units");
  return ok();
}

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
  if (auto index = index_registered_units(ctx, names.size()))
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

Status wait_for_unit_states(CommandContext& ctx, const std::vector<std::string>& names,
                            std::string_view verb, std::string_view state, int attempts) {
  if (attempts == -1) {
    for (const auto& n : names) ctx.io.out << "Triggered unit " << n << " " << verb << "\n";
    return ok();
  }
  auto failures = wait_states(ctx, names, state, attempts);
  if (failures.empty()) return ok();
  ctx.io.err << "Error waiting for units: " << failures.front().message << "\n";
  return failed(failures.front().message);
}

Status wait_for_systemd_active(CommandContext& ctx, const std::vector<std::string>& names,
                               int attempts) {
  if (attempts == -1) return ok();
  long budget = (attempts > 0 ? attempts : kSystemdCheckDefaultAttempts) * kPollsPerAttempt;
  std::vector<std::string> pending = names;
  std::vector<std::string> failures;
  for (long polls = 0; !pending.empty();) {
    for (auto it = pending.begin(); it != pending.end();) {
      auto states = ctx.api->list_unit_states({"", *it});
      bool active = false;
      std::string failed_state;
      if (states) {
        for (const auto& s : states.value()) {
          if (s.systemd_load_state == "loaded" && s.systemd_active_state == "active") active = true;
          if (s.systemd_active_state == "failed")
            failed_state = "failed (" + s.systemd_sub_state + ")";
        }
      }
      if (active) {
        it = pending.erase(it);
      } else if (!failed_state.empty()) {
        failures.push_back("Unit " + *it + " failed in systemd: " + failed_state);
        it = pending.erase(it);
      } else {
        ++it;
      }
    }
    if (pending.empty()) break;
    if (++polls >= budget) {
      for (const auto& n : pending) {
        failures.push_back("Failed to find an active unit " + n + " within " +
                           std::to_string(budget / kPollsPerAttempt * 2) + "s");
      }
      break;
    }
    ctx.sys.sleep(ctx.poll_interval);
  }
  for (const auto& f : failures) ctx.io.err << "Error waiting for units: " << f << "\n";
  if (!failures.empty()) return failed("unit failed to become active");
  return ok();
}

}  // namespace fleet::fleetctl
