// Human-readable explanations of why a unit cannot run somewhere (fleet's wording where fleet
// has one). Kept apart from the placement logic in planner.cpp.

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "engine/detail/explain.h"

namespace fleet::engine::detail {
namespace {

std::string machines_count(size_t n) {
  return std::to_string(n) + (n == 1 ? " machine" : " machines");
}

std::string_view verb(Verdict v) {
  switch (v) {
    case Verdict::conflict:
      return "conflicts with";
    case Verdict::replaced:
      return "is replaced by";
    case Verdict::peer:
      return "needs peer";
    case Verdict::displaced_again:
      return "would displace the already moved";
    case Verdict::machine_id:
      return "MachineID excludes it:";
    case Verdict::metadata:
      return "metadata insufficient:";
    case Verdict::cordoned:
      return "cordoned";
    case Verdict::ok:
      break;
  }
  return "";
}

std::string unit_name(const Index& ix, uint32_t u) {
  return u == kNone ? std::string("-") : std::string(ix.units[u].name());
}

}  // namespace

std::string format_requirement(const Requirement& req) {
  std::string out;
  for (const auto& [key, values] : req) {
    if (!out.empty()) out += ' ';
    out += key + '=';
    bool first = true;
    for (const auto& v : values) {
      if (!first) out += '|';
      out += v;
      first = false;
    }
  }
  return out;
}

std::string explain(const Index& ix, uint32_t u, uint32_t m, Check c) {
  const UnitSpec& spec = *ix.units[u].spec;
  switch (c.verdict) {
    case Verdict::machine_id: {
      auto r = ix.resolve_machine_id(spec.machine_id);
      if (r.matches > 1) {
        return "MachineID " + spec.machine_id + " is ambiguous: matches " +
               std::to_string(r.matches) + " machines";
      }
      return "agent ID \"" + std::string(ix.machines[m].id()) + "\" does not match required \"" +
             spec.machine_id + "\"";
    }
    case Verdict::metadata:
      return "local Machine metadata insufficient";
    case Verdict::cordoned:
      return "Machine(" + std::string(ix.machines[m].id()) + ") is cordoned";
    case Verdict::peer:
      if (c.blocker == kNone) {
        return "required peer Unit(" + ix.units[u].missing_peers.front() + ") does not exist";
      }
      return "required peer Unit(" + unit_name(ix, c.blocker) + ") is not scheduled locally";
    case Verdict::conflict:
      return "found conflict with locally-scheduled Unit(" + unit_name(ix, c.blocker) + ")";
    case Verdict::replaced:
      return "replaced by locally-scheduled Unit(" + unit_name(ix, c.blocker) + ")";
    case Verdict::displaced_again:
      return "would displace Unit(" + unit_name(ix, c.blocker) + "), which already moved";
    case Verdict::ok:
      break;
  }
  return "able to run";
}

std::string summarize(const Index& ix, const Requirement& req,
                      const std::vector<std::pair<uint32_t, Check>>& failures) {
  // (verdict, blocker) -> number of machines; blockers in name order.
  std::map<std::pair<Verdict, uint32_t>, size_t> groups;
  for (const auto& [m, c] : failures) ++groups[{c.verdict, c.blocker}];
  std::string where = req.empty()
                          ? "every machine"
                          : "every machine matching MachineMetadata " + format_requirement(req);
  std::string total = machines_count(failures.size());
  if (groups.empty()) return "no machines available";
  Verdict first = groups.begin()->first.first;
  bool uniform = std::all_of(groups.begin(), groups.end(),
                             [&](const auto& g) { return g.first.first == first; });
  if (uniform && first == Verdict::cordoned) return where + " is cordoned (" + total + ")";
  if (uniform) {
    std::string names;
    size_t shown = 0;
    for (const auto& [key, count] : groups) {
      if (shown == 3) {
        names += " and " + std::to_string(groups.size() - 3) + " more";
        break;
      }
      if (shown++ > 0) names += ", ";
      names += unit_name(ix, key.second);
    }
    return std::string(verb(first)) + " " + names + " on " + where + " (" + total + ")";
  }
  std::string out = "no machine can run it (" + total + "):";
  size_t shown = 0;
  for (const auto& [key, count] : groups) {
    if (shown == 4) {
      out += "; ...";
      break;
    }
    out += (shown++ > 0 ? "; " : " ");
    if (key.first == Verdict::cordoned) {
      out += "cordoned on " + machines_count(count);
      continue;
    }
    out += std::string(verb(key.first)) + " " + unit_name(ix, key.second) + " on " +
           machines_count(count);
  }
  return out;
}

}  // namespace fleet::engine::detail
