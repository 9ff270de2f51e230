// Rolling updates: GET/POST /fleet/v1/rollouts, GET/DELETE /fleet/v1/rollouts/<name>. The API
// only records what is asked (the new content stored, the instances to replace listed); the
// engine leader carries the rollout out (engine/rollout_planner.h).

#include <chrono>
#include <nlohmann/json.hpp>

#include "api/server/detail/routes.h"
#include "common/log.h"
#include "registry/registry.h"
#include "unitfile/unit_name.h"

namespace fleet::api::server::detail {

namespace {

using registry::TargetState;

constexpr std::int64_t kMaxMs = 7LL * 24 * 3600 * 1000;

Rollout view(const registry::UnitRollout& r) {
  Rollout v;
  v.name = r.name;
  v.hash = r.hash;
  v.old_hash = r.old_hash;
  v.state = std::string(registry::to_string(r.state));
  v.max_unavailable = r.max_unavailable;
  v.min_healthy_ms = r.min_healthy_ms;
  v.timeout_ms = r.timeout_ms;
  v.revert = r.revert;
  v.abort = r.abort;
  v.started_ms = r.started_ms;
  v.ended_ms = r.ended_ms;
  v.message = r.message;
  for (const auto& i : r.instances)
    v.instances.push_back({i.unit, std::string(registry::to_string(i.step)), i.machine, i.old_hash,
                           i.since_ms, i.message});
  return v;
}

// Whether `unit` is rolled by a rollout of `name`: the unit itself, or an instance of the
// template `name`.
bool rolled_by(const std::string& name, bool tmpl, const std::string& unit) {
  if (!tmpl) return unit == name;
  auto info = unitfile::parse_unit_name(unit);
  return info && info->is_instance() && info->template_name == name;
}

std::optional<std::string> check(const RolloutRequest& r) {
  if (auto st = unitfile::validate_unit_name(r.name); !st) return st.error().message;
  if (r.options.empty()) return "options must hold the new unit content";
  if (r.max_unavailable < 1 || r.max_unavailable > kMaxRolloutUnavailable)
    return "maxUnavailable must be an integer from 1 to " + std::to_string(kMaxRolloutUnavailable);
  if (r.min_healthy_ms < 0 || r.min_healthy_ms > kMaxMs)
    return "minHealthyMs must be from 0 to " + std::to_string(kMaxMs);
  if (r.timeout_ms < 1000 || r.timeout_ms > kMaxMs)
    return "timeoutMs must be from 1000 to " + std::to_string(kMaxMs);
  if (is_global(r.options))
    return "a global unit cannot be rolled out (it runs everywhere at once)";
  return std::nullopt;
}

Task<Response> start(const Request& req, ApiContext& ctx) {
  auto decoded = decode_rollout_request(req.body);
  if (!decoded) co_return error_response(400, decoded.error().message);
  const RolloutRequest& rq = decoded.value();
  if (auto bad = check(rq)) co_return error_response(400, *bad);
  Unit unit;
  unit.name = rq.name;
  unit.options = rq.options;
  auto content = build_content(unit);
  if (!content.valid) co_return error_response(400, content.valid.error().message);

  auto units = co_await ctx.registry.list_units();
  if (!units) co_return registry_error(units.error());
  const bool tmpl = is_template(rq.name);
  registry::UnitRollout r;
  r.name = rq.name;
  r.hash = content.hash;
  r.max_unavailable = rq.max_unavailable;
  r.min_healthy_ms = rq.min_healthy_ms;
  r.timeout_ms = rq.timeout_ms;
  r.revert = rq.revert;
  r.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  std::optional<registry::UnitRecord> named;
  for (const auto& u : units.value()) {
    if (tmpl && u.name == rq.name) named = u;
    if (!rolled_by(rq.name, tmpl, u.name)) continue;
    registry::RolloutInstance i;
    i.unit = u.name;
    i.old_hash = u.hash;
    i.since_ms = r.started_ms;
    r.instances.push_back(std::move(i));
  }
  if (r.instances.empty() && !named)
    co_return error_response(404, "no unit " + rq.name + " to roll out (submit or start it first)");
  if (named) r.old_hash = named->hash;
  auto st = co_await ctx.registry.start_rollout(r, std::move(content.text), named);
  if (!st && (st.error().code == Errc::already_exists || st.error().code == Errc::conflict))
    co_return error_response(409, st.error().message);
  if (!st) co_return registry_error(st.error());
  log::info("api", "rollout started",
            {{"unit", r.name}, {"instances", std::to_string(r.instances.size())}});
  registry::EventRecord e;
  e.kind = "rollout";
  e.unit = r.name;
  e.reason = "rollout started: " + std::to_string(r.instances.size()) + " instance(s) to content " +
             r.hash.substr(0, 7) + ", " + std::to_string(r.max_unavailable) + " at a time";
  std::vector<registry::EventRecord> evs;  // no braced list: GCC 12 coroutine bug
  evs.push_back(std::move(e));
  co_await ctx.registry.events().record(std::move(evs), "api");
  co_return json_response(201, encode(view(r)));
}

}  // namespace

Task<Response> rollouts(const Request& req, ApiContext& ctx, const std::string& name) {
  if (name.empty()) {
    if (req.method == "POST") co_return co_await start(req, ctx);
    if (req.method != "GET")
      co_return error_response(405, "only GET and POST supported against this resource");
    auto all = co_await ctx.registry.list_rollouts();
    if (!all) co_return registry_error(all.error());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& r : all.value()) list.push_back(view(r));
    nlohmann::json body = nlohmann::json::object();
    body["rollouts"] = std::move(list);
    co_return json_response(200, body.dump());
  }
  if (req.method == "DELETE") {
    auto st = co_await ctx.registry.abort_rollout(name);
    if (!st && st.error().code == Errc::not_found)
      co_return error_response(404, st.error().message);
    if (!st && st.error().code == Errc::conflict) co_return error_response(409, st.error().message);
    if (!st) co_return registry_error(st.error());
    log::info("api", "rollout abort requested", {{"unit", name}});
    co_return empty_response(204);
  }
  if (req.method != "GET")
    co_return error_response(405, "only GET and DELETE supported against this resource");
  auto r = co_await ctx.registry.get_rollout(name);
  if (!r) co_return registry_error(r.error());
  if (!r.value()) co_return error_response(404, "no rollout of " + name);
  co_return json_response(200, encode(view(*r.value())));
}

}  // namespace fleet::api::server::detail
