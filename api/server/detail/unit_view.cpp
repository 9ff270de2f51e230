#include "api/server/detail/unit_view.h"

#include <algorithm>

#include "common/log.h"
#include "registry/codec.h"
#include "registry/registry.h"
#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"

namespace fleet::api::server::detail {

using registry::KeyKind;
using registry::Op;
using registry::TxnRequest;

ParsedContent parse_content(std::string_view text, bool* ok) {
  ParsedContent out;
  auto uf = unitfile::UnitFile::parse(text);
  if (ok) *ok = bool(uf);
  if (!uf) return out;
  for (const auto& o : uf.value().options()) out.options.push_back({o.section, o.name, o.value});
  out.global = unitfile::requirements_of(uf.value(), "").global;
  return out;
}

Task<Result<UnitsSnapshot>> read_units(registry::Registry& reg,
                                       const std::optional<std::string>& name) {
  const auto& keys = reg.keys();
  auto prefix = [](std::string k) { return Op::get(k, registry::prefix_end(k)); };
  // One txn, so units, schedules, states and reasons are read at the same revision.
  TxnRequest txn;
  if (name) {
    txn.success.push_back(Op::get(keys.unit(*name)));
    txn.success.push_back(Op::get(keys.schedule(*name)));
    txn.success.push_back(prefix(keys.states_of(*name)));
    txn.success.push_back(Op::get(keys.reason(*name)));
  } else {
    txn.success.push_back(prefix(keys.units()));
    txn.success.push_back(prefix(keys.schedules()));
    txn.success.push_back(prefix(keys.states()));
    txn.success.push_back(prefix(keys.reasons()));
  }
  BOOST_OUTCOME_CO_TRY(auto resp, co_await reg.kv().txn(std::move(txn)));
  if (resp.results.size() != 4) co_return fail(Errc::internal, "short txn response");
  UnitsSnapshot snap;
  for (const auto& kv : resp.results[0].range.kvs) {
    auto p = keys.parse(kv.key);
    if (!p || p->kind != KeyKind::unit) continue;
    auto u = registry::decode_unit(p->first, kv.value);
    if (!u) {
      log::warn("api", "skipping unreadable unit record", {{"unit", p->first}});
      continue;
    }
    u.value().mod_revision = kv.mod_revision;
    snap.units.push_back(std::move(u).value());
  }
  std::sort(snap.units.begin(), snap.units.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& kv : resp.results[1].range.kvs)
    if (auto p = keys.parse(kv.key); p && p->kind == KeyKind::schedule)
      snap.schedule[p->first] = kv.value;
  for (const auto& kv : resp.results[2].range.kvs)
    if (auto p = keys.parse(kv.key); p && p->kind == KeyKind::state) {
      auto st = registry::decode_state(p->first, p->second, kv.value);
      snap.reported[{p->first, p->second}] = st ? st.value().active_state : std::string();
    }
  for (const auto& kv : resp.results[3].range.kvs)
    if (auto p = keys.parse(kv.key); p && p->kind == KeyKind::reason)
      snap.reasons[p->first] = kv.value;
  co_return snap;
}

Task<Status> load_contents(registry::Registry& reg, ContentCache& cache,
                           const std::vector<std::string>& hashes) {
  std::vector<std::string> missing;
  for (const auto& h : hashes)
    if (!cache.find(h) && std::find(missing.begin(), missing.end(), h) == missing.end())
      missing.push_back(h);
  if (missing.empty()) co_return ok();
  BOOST_OUTCOME_CO_TRY(auto found, co_await reg.get_contents(missing));
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
    cache.insert(hash, std::move(parsed));
  }
  co_return ok();
}

namespace {

bool still_running(const std::string& active_state) {
  return active_state == "active" || active_state == "activating" ||
         active_state == "deactivating" || active_state == "reloading";
}

}  // namespace

Unit unit_view(const registry::UnitRecord& rec, const UnitsSnapshot& snap,
               const ParsedContent* content) {
  Unit u;
  u.name = rec.name;
  u.desired_state = std::string(registry::to_string(rec.desired));
  if (content) u.options = content->options;
  if (content && content->global) return u;
  auto it = snap.schedule.find(rec.name);
  if (it == snap.schedule.end() || it->second.empty()) {
    u.current_state = std::string(kStateInactive);
    if (auto r = snap.reasons.find(rec.name); r != snap.reasons.end()) u.reason = r->second;
    return u;
  }
  u.machine_id = it->second;
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
