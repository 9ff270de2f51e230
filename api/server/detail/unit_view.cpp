#include "api/server/detail/unit_view.h"

#include <algorithm>

#include "common/log.h"
#include "registry/registry.h"
#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"

namespace fleet::api::server::detail {

ParsedContent parse_content(std::string_view text, bool* ok) {
  ParsedContent out;
  auto uf = unitfile::UnitFile::parse(text);
  if (ok) *ok = bool(uf);
  if (!uf) return out;
  for (const auto& o : uf.value().options()) out.options.push_back({o.section, o.name, o.value});
  out.global = unitfile::requirements_of(uf.value(), "").global;
  out.description = uf.value().description();
  out.options_json = encode_options(out.options);
  return out;
}

Task<Result<std::vector<std::shared_ptr<const ParsedContent>>>> load_contents(
    registry::Registry& reg, ContentCache& cache, const std::vector<std::string>& hashes) {
  std::vector<std::shared_ptr<const ParsedContent>> out(hashes.size());
  std::vector<std::string> missing;
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    out[i] = cache.find(hashes[i]);
    if (!out[i] && std::find(missing.begin(), missing.end(), hashes[i]) == missing.end())
      missing.push_back(hashes[i]);
  }
  if (missing.empty()) co_return out;
  BOOST_OUTCOME_CO_TRY(auto found, co_await reg.get_contents(missing));
  std::map<std::string_view, std::shared_ptr<const ParsedContent>> loaded;
  for (const auto& hash : missing) {
    auto it = found.find(hash);
    if (it == found.end()) {
      // Not cached: the content may still be on its way (never for a committed unit).
      log::warn("api", "unit content missing", {{"hash", hash}});
      continue;
    }
    bool ok = true;
    auto parsed = parse_content(it->second, &ok);
    if (!ok) log::warn("api", "unit content unparseable", {{"hash", hash}});
    loaded[hash] = cache.insert(hash, std::move(parsed));
  }
  for (std::size_t i = 0; i < hashes.size(); ++i)
    if (!out[i])
      if (auto l = loaded.find(hashes[i]); l != loaded.end()) out[i] = l->second;
  co_return out;
}

namespace {

bool still_running(const std::string& active_state) {
  return active_state == "active" || active_state == "activating" ||
         active_state == "deactivating" || active_state == "reloading";
}

}  // namespace

Unit unit_view(const registry::UnitRecord& rec, const UnitsSnapshot& snap,
               const ParsedContent* content, bool with_options) {
  Unit u;
  u.name = rec.name;
  u.desired_state = std::string(registry::to_string(rec.desired));
  if (content && with_options) u.options = content->options;
  if (content && content->global) return u;
  auto it = snap.schedule.find(rec.name);
  if (it == snap.schedule.end() || it->second.empty()) {
    u.current_state = std::string(kStateInactive);
    if (auto r = snap.reasons.find(rec.name); r != snap.reasons.end()) u.reason = r->second;
    return u;
  }
  u.machine_id = it->second;
  // A scheduled unit has a reason only when it cannot leave a draining machine.
  if (auto r = snap.reasons.find(rec.name); r != snap.reasons.end()) u.reason = r->second;
  auto reported = snap.reported.find({rec.name, it->second});
  if (reported == snap.reported.end()) {
    u.current_state = std::string(kStateInactive);
  } else if (rec.desired == registry::TargetState::launched || still_running(reported->second)) {
    // A unit asked to stop stays `launched` until its machine reports systemd stopped it, as
    // fleet's launch heartbeat did: `fleetctl stop` and `restart` wait for that, not for the
    // registry write alone (restart would otherwise never stop the process).
    u.current_state = std::string(kStateLaunched);
  } else {
    u.current_state = std::string(kStateLoaded);
  }
  return u;
}

}  // namespace fleet::api::server::detail
