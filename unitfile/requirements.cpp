#include "unitfile/requirements.h"

#include <algorithm>
#include <array>
#include <optional>
#include <unordered_set>

#include "common/glob.h"
#include "common/strings.h"
#include "unitfile/detail/go_text.h"
#include "unitfile/unit_name.h"

namespace fleet::unitfile {
namespace {

constexpr std::string_view kXFleet = "X-Fleet";

constexpr std::array<std::string_view, 12> kKnownKeys = {"MachineID",
                                                         "X-ConditionMachineID",
                                                         "X-ConditionMachineBootID",
                                                         "X-ConditionMachineOf",
                                                         "MachineOf",
                                                         "X-Conflicts",
                                                         "Conflicts",
                                                         "X-ConditionMachineMetadata",
                                                         "MachineMetadata",
                                                         "Global",
                                                         "Replaces",
                                                         "StopOnDisconnect"};

// fleet's unitPrintf: plain sequential replacement, no %% escaping.
std::string substitute(std::string s, const UnitNameInfo& info) {
  const std::array<std::pair<std::string_view, std::string_view>, 4> specs = {{
      {"%n", info.full_name},
      {"%N", info.name},
      {"%p", info.prefix},
      {"%i", info.instance},
  }};
  for (const auto& [spec, repl] : specs) {
    std::string out;
    std::size_t from = 0;
    for (std::size_t at; (at = s.find(spec, from)) != std::string::npos; from = at + spec.size()) {
      out.append(s, from, at - from);
      out.append(repl);
    }
    out.append(s, from);
    s = std::move(out);
  }
  return s;
}

// Appends values not seen before, in order of first appearance. A set keeps this linear: a 1 MiB
// unit file can hold ~150k values, and a scan per value would cost ~10^10 comparisons.
class UniqueList {
 public:
  explicit UniqueList(std::vector<std::string>& out) : out_(out), seen_(out.begin(), out.end()) {}
  void push(std::string v) {
    if (seen_.insert(v).second) out_.push_back(std::move(v));
  }

 private:
  std::vector<std::string>& out_;
  std::unordered_set<std::string> seen_;
};

class XFleet {
 public:
  XFleet(const UnitFile& unit, std::string_view unit_name)
      : unit_(unit), info_(parse_unit_name(unit_name)) {}

  // Substituted values of `key`; empty when absent (a present key always has >= 1 value).
  std::vector<std::string> values(std::string_view key) const {
    std::vector<std::string> out = unit_.values(kXFleet, key);
    if (info_) {
      for (auto& v : out) v = substitute(std::move(v), *info_);
    }
    return out;
  }

 private:
  const UnitFile& unit_;
  std::optional<UnitNameInfo> info_;
};

// Every later check matches each Conflicts/Replaces glob against unit names (here against each
// peer); these limits keep that work small for any unit file.
Status check_limits(const Requirements& r) {
  const std::array<std::pair<const char*, const std::vector<std::string>*>, 3> lists = {{
      {"Conflicts", &r.conflicts},
      {"Replaces", &r.replaces},
      {"MachineOf", &r.peers},
  }};
  for (const auto& [key, values] : lists) {
    if (values->size() > kMaxRequirementValues) {
      return fail(Errc::invalid_argument, std::string(key) + " has " +
                                              std::to_string(values->size()) + " values, at most " +
                                              std::to_string(kMaxRequirementValues) + " allowed");
    }
    for (const auto& v : *values) {
      if (v.size() > kMaxGlobBytes) {
        return fail(Errc::invalid_argument, std::string(key) + " value of " +
                                                std::to_string(v.size()) + " bytes, at most " +
                                                std::to_string(kMaxGlobBytes) + " allowed");
      }
    }
  }
  return ok();
}

// Options from the API become unit-file text before they are stored. A line break, a ']' in a
// section name, a '=' in an option name or a trailing '\' would turn one option into others there
// (e.g. a value "x\nGlobal=true"), so such options are refused; only the white space the parser
// trims at the ends of a value may differ.
Status check_round_trip(const UnitFile& given, const UnitFile& stored) {
  const auto& a = given.options();
  const auto& b = stored.options();
  auto same = [](const UnitOption& x, const UnitOption& y) {
    return x.section == y.section && x.name == y.name && trim(x.value) == trim(y.value);
  };
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (i < b.size() && same(a[i], b[i])) continue;
    return fail(Errc::invalid_argument,
                "option " + std::to_string(i + 1) + " (section " + detail::go_quote(a[i].section) +
                    ", name " + detail::go_quote(a[i].name) +
                    ") would change meaning as unit-file text: line breaks, \"]\" in section "
                    "names, \"=\" in option names and a trailing \"\\\" are not allowed");
  }
  if (b.size() != a.size()) {
    return fail(Errc::invalid_argument, "options would change meaning as unit-file text (" +
                                            std::to_string(a.size()) + " given, " +
                                            std::to_string(b.size()) + " stored)");
  }
  return ok();
}

bool glob_applies(const std::string& pattern, std::string_view name) {
  return within_glob_limit(pattern) && glob_match(pattern, name);
}

}  // namespace

Requirements requirements_of(const UnitFile& unit, std::string_view unit_name) {
  XFleet x(unit, unit_name);
  Requirements r;

  for (std::string_view key : {"MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID"}) {
    auto v = x.values(key);
    if (!v.empty()) {
      r.machine_id = std::move(v.front());
      r.has_machine_id = true;
      break;
    }
  }
  UniqueList peers(r.peers);
  for (std::string_view key : {"X-ConditionMachineOf", "MachineOf"}) {
    for (auto& v : x.values(key)) peers.push(std::move(v));
  }
  for (std::string_view key : {"X-ConditionMachineMetadata", "MachineMetadata"}) {
    for (const auto& v : x.values(key)) {
      auto kv = split(v, '=');
      if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) continue;
      r.metadata[kv[0]].insert(kv[1]);
    }
  }
  UniqueList conflicts(r.conflicts);
  for (std::string_view key : {"X-Conflicts", "Conflicts"}) {
    for (const auto& v : x.values(key)) {
      for (auto& field : split_fields(v)) conflicts.push(std::move(field));
    }
  }
  UniqueList replacements(r.replaces);
  for (auto& v : x.values("Replaces")) replacements.push(std::move(v));
  auto global = x.values("Global");
  r.global = !global.empty() && parse_truthy(global.back());
  auto stop = x.values("StopOnDisconnect");
  r.stop_on_disconnect = !stop.empty() && parse_truthy(stop.back());

  UniqueList unknown(r.unknown_keys);
  for (const auto& opt : unit.options()) {
    if (opt.section != kXFleet) continue;
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), opt.name) != kKnownKeys.end()) continue;
    unknown.push(opt.name);
  }
  return r;
}

Status validate_options(const UnitFile& unit, std::string_view unit_name) {
  // The canonical form is what is stored and what agents write to disk; it must itself be a valid
  // unit file (this is where over-long lines built from API options are caught), and it must mean
  // what was validated: the checks below run on it.
  BOOST_OUTCOME_TRY(auto stored, UnitFile::parse(unit.serialize()));
  BOOST_OUTCOME_TRY(check_round_trip(unit, stored));

  Requirements r = requirements_of(stored, unit_name);
  BOOST_OUTCOME_TRY(check_limits(r));
  for (const auto& peer : r.peers) {
    for (const auto& c : r.conflicts) {
      if (glob_applies(c, peer)) {
        return fail(Errc::invalid_argument, "unresolvable requirements: peer " +
                                                detail::go_quote(peer) + " matches conflict " +
                                                detail::go_quote(c));
      }
    }
    for (const auto& rep : r.replaces) {
      if (glob_applies(rep, peer)) {
        return fail(Errc::invalid_argument, "unresolvable requirements: peer " +
                                                detail::go_quote(peer) + " matches replace " +
                                                detail::go_quote(rep));
      }
    }
  }

  const bool peers = !r.peers.empty();
  const bool conflicts = !r.conflicts.empty();
  const bool repl = !r.replaces.empty();
  const bool machine = r.has_machine_id;
  const char* msg = nullptr;
  if (machine && peers) {
    msg = "MachineID cannot be used with Peers";
  } else if (machine && conflicts) {
    msg = "MachineID cannot be used with Conflicts";
  } else if (machine && r.global) {
    msg = "MachineID cannot be used with Global";
  } else if (machine && repl) {
    msg = "MachineID cannot be used with Replaces";
  } else if (r.global && peers) {
    msg = "Global cannot be used with Peers";
  } else if (r.global && repl) {
    msg = "Global cannot be used with Replaces";
  } else if (conflicts && repl) {
    msg = "Conflicts cannot be used with Replaces";
  }
  if (msg) return fail(Errc::invalid_argument, msg);
  return ok();
}

bool conflicts_with(const Requirements& a, std::string_view a_name, const Requirements& b,
                    std::string_view b_name) {
  if (a_name == b_name) return false;
  auto any_match = [](const std::vector<std::string>& patterns, std::string_view name) {
    return std::any_of(patterns.begin(), patterns.end(),
                       [&](const std::string& p) { return glob_applies(p, name); });
  };
  return any_match(a.conflicts, b_name) || any_match(b.conflicts, a_name);
}

bool replaces(const Requirements& r, std::string_view other_name) {
  return std::any_of(r.replaces.begin(), r.replaces.end(),
                     [&](const std::string& p) { return glob_applies(p, other_name); });
}

bool machine_id_matches(std::string_view required, std::string_view machine_id) {
  constexpr std::size_t kShortIdLen = 8;
  return required == machine_id || required == machine_id.substr(0, kShortIdLen);
}

bool metadata_matches(const Requirements& r,
                      const std::map<std::string, std::string, std::less<>>& machine_metadata) {
  return std::all_of(r.metadata.begin(), r.metadata.end(), [&](const auto& req) {
    auto it = machine_metadata.find(req.first);
    return it != machine_metadata.end() && req.second.count(it->second) > 0;
  });
}

}  // namespace fleet::unitfile
