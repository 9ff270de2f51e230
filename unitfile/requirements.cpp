#include "unitfile/requirements.h"

#include <algorithm>
#include <array>
#include <optional>

#include "common/glob.h"
#include "common/strings.h"
#include "unitfile/detail/go_text.h"
#include "unitfile/unit_name.h"

namespace fleet::unitfile {
namespace {

constexpr std::string_view kXFleet = "X-Fleet";

constexpr std::array<std::string_view, 11> kKnownKeys = {"MachineID",
                                                         "X-ConditionMachineID",
                                                         "X-ConditionMachineBootID",
                                                         "X-ConditionMachineOf",
                                                         "MachineOf",
                                                         "X-Conflicts",
                                                         "Conflicts",
                                                         "X-ConditionMachineMetadata",
                                                         "MachineMetadata",
                                                         "Global",
                                                         "Replaces"};

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

void push_unique(std::vector<std::string>& out, std::string v) {
  if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(std::move(v));
}

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
  for (std::string_view key : {"X-ConditionMachineOf", "MachineOf"}) {
    for (auto& v : x.values(key)) push_unique(r.peers, std::move(v));
  }
  for (std::string_view key : {"X-ConditionMachineMetadata", "MachineMetadata"}) {
    for (const auto& v : x.values(key)) {
      auto kv = split(v, '=');
      if (kv.size() != 2 || kv[0].empty() || kv[1].empty()) continue;
      r.metadata[kv[0]].insert(kv[1]);
    }
  }
  for (std::string_view key : {"X-Conflicts", "Conflicts"}) {
    for (const auto& v : x.values(key)) {
      for (auto& field : split_fields(v)) push_unique(r.conflicts, std::move(field));
    }
  }
  for (auto& v : x.values("Replaces")) push_unique(r.replaces, std::move(v));
  auto global = x.values("Global");
  r.global = !global.empty() && parse_truthy(global.back());

  for (const auto& opt : unit.options()) {
    if (opt.section != kXFleet) continue;
    if (std::find(kKnownKeys.begin(), kKnownKeys.end(), opt.name) != kKnownKeys.end()) continue;
    push_unique(r.unknown_keys, opt.name);
  }
  return r;
}

Status validate_options(const UnitFile& unit, std::string_view unit_name) {
  // The canonical form is what agents write to disk; it must itself be a valid unit file (this
  // is where over-long lines built from API options are caught).
  BOOST_OUTCOME_TRY(UnitFile::parse(unit.serialize()));

  Requirements r = requirements_of(unit, unit_name);
  for (const auto& peer : r.peers) {
    for (const auto& c : r.conflicts) {
      if (glob_match(c, peer)) {
        return fail(Errc::invalid_argument, "unresolvable requirements: peer " +
                                                detail::go_quote(peer) + " matches conflict " +
                                                detail::go_quote(c));
      }
    }
    for (const auto& rep : r.replaces) {
      if (glob_match(rep, peer)) {
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
                       [&](const std::string& p) { return glob_match(p, name); });
  };
  return any_match(a.conflicts, b_name) || any_match(b.conflicts, a_name);
}

bool replaces(const Requirements& r, std::string_view other_name) {
  return std::any_of(r.replaces.begin(), r.replaces.end(),
                     [&](const std::string& p) { return glob_match(p, other_name); });
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
