// Rolling reboots: GET/POST /fleet/v1/reboot and the semaphore's /reboot:lock, :unlock, :setMax.
// The API only records what is asked; the engine leader carries the rollout out
// (engine/reboot_planner.h).

#include <algorithm>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>

#include "api/server/detail/routes.h"
#include "common/log.h"
#include "registry/registry.h"

namespace fleet::api::server::detail {

namespace {

using nlohmann::json;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

RebootStatus status_view(const std::optional<registry::RebootRollout>& r,
                         const registry::RebootLock& lock) {
  RebootStatus out;
  out.max = lock.max;
  out.holders = lock.holders;
  if (r) {
    RebootRollout v;
    v.state = std::string(registry::to_string(r->state));
    v.max_unavailable = r->max_unavailable;
    v.timeout_seconds = r->timeout_s;
    v.started = r->started;
    v.message = r->message;
    for (const auto& h : r->hosts)
      v.hosts.push_back({h.machine, std::string(registry::to_string(h.step)), h.since});
    out.rollout = std::move(v);
  }
  return out;
}

Result<json> body_object(const Request& req) {
  auto j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return fail(Errc::invalid_argument, "unable to decode body: expected a JSON object");
  return j;
}

// An integer field in [lo, hi]; `def` when absent.
Result<std::int64_t> int_field(const json& j, const char* key, std::int64_t def, std::int64_t lo,
                               std::int64_t hi) {
  auto it = j.find(key);
  if (it == j.end()) return def;
  if (!it->is_number_integer() || it->get<std::int64_t>() < lo || it->get<std::int64_t>() > hi)
    return fail(Errc::invalid_argument, std::string(key) + " must be an integer from " +
                                            std::to_string(lo) + " to " + std::to_string(hi));
  return it->get<std::int64_t>();
}

Task<Response> start(const Request& req, ApiContext& ctx) {
  auto j = body_object(req);
  if (!j) co_return error_response(400, j.error().message);
  auto ms = j.value().find("machines");
  if (ms == j.value().end() || !ms->is_array() || ms->empty())
    co_return error_response(400, "machines must be a non-empty array of machine IDs");
  auto max = int_field(j.value(), "maxUnavailable", 0, 1, kMaxRebootUnavailable);
  auto timeout = int_field(j.value(), "timeoutSeconds", 600, 10, 7 * 24 * 3600);
  if (!max) co_return error_response(400, max.error().message);
  if (!timeout) co_return error_response(400, timeout.error().message);
  auto up = co_await ctx.registry.list_machines();
  if (!up) co_return registry_error(up.error());
  registry::RebootRollout r;
  r.max_unavailable = max.value() > 0 ? static_cast<int>(max.value()) : 1;
  r.timeout_s = timeout.value();
  r.started = unix_now();
  std::set<std::string> seen;
  for (const auto& m : *ms) {
    if (!m.is_string()) co_return error_response(400, "machines must be machine IDs");
    const auto id = m.get<std::string>();
    bool known = std::any_of(up.value().begin(), up.value().end(),
                             [&](const registry::MachineRecord& rec) { return rec.id == id; });
    if (!known) co_return error_response(400, "machine " + id + " is not up");
    if (!seen.insert(id).second) co_return error_response(400, "machine " + id + " named twice");
    r.hosts.push_back({id, registry::RebootStep::pending, {}, r.started});
  }
  std::optional<int> lock_max;
  if (max.value() > 0) lock_max = static_cast<int>(max.value());
  auto st = co_await ctx.registry.start_reboot_rollout(r, lock_max);
  if (!st && st.error().code == Errc::already_exists)
    co_return error_response(409, st.error().message);
  if (!st) co_return registry_error(st.error());
  log::info("api", "reboot rollout started", {{"machines", std::to_string(r.hosts.size())}});
  co_return json_response(201, encode(status_view(r, registry::RebootLock{})));
}

Task<Response> lock_action(const Request& req, ApiContext& ctx, const std::string& action) {
  auto j = body_object(req);
  if (!j) co_return error_response(400, j.error().message);
  std::string machine;
  int max = 0;
  if (action == "setMax") {
    auto m = int_field(j.value(), "max", -1, 0, 1000);
    if (!m || m.value() < 0) co_return error_response(400, "max must be an integer from 0 to 1000");
    max = static_cast<int>(m.value());
  } else {
    auto it = j.value().find("machine");
    if (it == j.value().end() || !it->is_string() || it->get<std::string>().empty())
      co_return error_response(400, "machine must be a machine ID");
    machine = it->get<std::string>();
  }
  int code = 200;
  // A named function: GCC 12 frees a temporary built inside a co_await expression twice.
  std::function<Status(registry::RebootLock&)> change = [&](registry::RebootLock& lock) -> Status {
    auto& h = lock.holders;
    bool holds = std::find(h.begin(), h.end(), machine) != h.end();
    if (action == "setMax") {
      lock.max = max;
    } else if (action == "lock") {
      if (!holds && static_cast<int>(h.size()) >= lock.max) {
        code = 409;
        return fail(Errc::conflict, "no reboot slot is free (max " + std::to_string(lock.max) +
                                        ", " + std::to_string(h.size()) + " held)");
      }
      if (!holds) h.push_back(machine);
    } else {
      if (!holds) {
        code = 404;
        return fail(Errc::not_found, "machine " + machine + " does not hold the reboot lock");
      }
      std::erase(h, machine);
    }
    return ok();
  };
  auto st = co_await ctx.registry.update_reboot_lock(std::move(change));
  if (!st && code != 200) co_return error_response(code, st.error().message);
  if (!st) co_return registry_error(st.error());
  std::string max_text;  // no ?: — GCC 12 destroys class temporaries of a ?: in a coroutine twice
  if (action == "setMax") max_text = std::to_string(max);
  log::info("api", "reboot lock " + action, {{"machine", machine}, {"max", max_text}});
  co_return empty_response(204);
}

}  // namespace

Task<Response> reboot(const Request& req, ApiContext& ctx, const std::string& action) {
  if (action.empty()) {
    if (req.method == "POST") co_return co_await start(req, ctx);
    if (req.method != "GET")
      co_return error_response(405, "only GET and POST supported against this resource");
    auto state = co_await ctx.registry.reboot_state();
    if (!state) co_return registry_error(state.error());
    co_return json_response(200, encode(status_view(state.value().first, state.value().second)));
  }
  if (action != "lock" && action != "unlock" && action != "setMax")
    co_return error_response(404, "page not found");
  if (req.method != "POST")
    co_return error_response(405, "only POST supported against this resource");
  co_return co_await lock_action(req, ctx, action);
}

}  // namespace fleet::api::server::detail
