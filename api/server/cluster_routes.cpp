// Cluster-wide routes: /fleet/v1/state, /fleet/v1/machines and /metrics.

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "api/server/detail/routes.h"
#include "api/server/detail/unit_view.h"
#include "common/log.h"
#include "common/metrics.h"
#include "registry/cluster_view.h"
#include "registry/registry.h"

namespace fleet::api::server::detail {

namespace {

UnitState state_view(const registry::UnitStateRecord& s) {
  return UnitState{s.unit, s.hash, s.machine, s.load_state, s.active_state, s.sub_state};
}

std::string first_value(const Request& req, std::string_view name) {
  auto v = req.query_values(name);
  return v.empty() ? std::string() : v.front();
}

Task<Response> list_machines(const Request& req, ApiContext& ctx) {
  auto page = requested_page(req, ctx);
  if (!page) co_return error_response(400, page.error().message);
  auto machines = co_await ctx.registry.list_machines();
  if (!machines) co_return registry_error(machines.error());
  const auto& all = machines.value();
  const auto slice = slice_page(page.value(), all.size());
  MachinePage out;
  for (std::size_t i = slice.begin; i < slice.end; ++i) {
    Machine m{all[i].id,
              all[i].public_ip,
              {},
              all[i].version,
              std::string(registry::to_string(all[i].maintenance.mode))};
    // A dynamic empty value removes the key.
    for (const auto& [k, v] : all[i].metadata)
      if (!v.empty()) m.metadata.emplace(k, v);
    out.machines.push_back(std::move(m));
  }
  out.next_page_token = slice.next_token;
  co_return json_response(200, encode(out));
}

struct MetadataOp {
  std::string op;
  std::string machine;
  std::string key;
  std::string value;
};

// `^/([^/]+)/metadata/([A-Za-z0-9_.-]+)$`
bool parse_metadata_path(std::string_view path, std::string& machine, std::string& key) {
  constexpr std::string_view kMiddle = "/metadata/";
  if (path.empty() || path.front() != '/') return false;
  path.remove_prefix(1);
  auto slash = path.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  if (path.substr(slash, kMiddle.size()) != kMiddle) return false;
  std::string_view k = path.substr(slash + kMiddle.size());
  if (k.empty()) return false;
  for (char c : k) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  machine = std::string(path.substr(0, slash));
  key = std::string(k);
  return true;
}

// Decodes and validates the whole PATCH body before anything is applied.
Result<std::vector<MetadataOp>> parse_patch(std::string_view body) {
  using nlohmann::json;
  auto j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail(Errc::invalid_argument, "unable to decode body: invalid JSON");
  if (!j.is_array())
    return fail(Errc::invalid_argument, "unable to decode body: expected an array of operations");
  std::vector<MetadataOp> ops;
  auto str = [](const json& o, const char* key, std::string& out) -> bool {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  for (const auto& e : j) {
    MetadataOp op;
    std::string path;
    if (!e.is_object() || !str(e, "op", op.op) || !str(e, "path", path))
      return fail(Errc::invalid_argument, "unable to decode body: malformed operation");
    if (auto v = e.find("value"); v != e.end() && !v->is_null()) {
      if (!v->is_object() || !str(*v, "value", op.value))
        return fail(Errc::invalid_argument,
                    "unable to decode body: value must be an object {\"value\": string}");
    }
    if (op.op != "add" && op.op != "remove" && op.op != "replace")
      return fail(Errc::invalid_argument, "invalid op: expect add, remove, or replace");
    if (!parse_metadata_path(path, op.machine, op.key))
      return fail(Errc::invalid_argument, "machine metadata path invalid");
    if (op.op != "remove" && op.value.empty())
      return fail(Errc::invalid_argument, "invalid value: add and replace require a value");
    ops.push_back(std::move(op));
  }
  return ops;
}

Task<Response> patch_machines(const Request& req, ApiContext& ctx) {
  auto ops = parse_patch(req.body);
  if (!ops) co_return error_response(400, ops.error().message);
  for (const auto& op : ops.value()) {
    // remove stores "" rather than deleting, so it also hides a key from the machine's config.
    // Arguments are named variables: GCC 12 mishandles a ?: temporary inside co_await.
    std::string value = op.op == "remove" ? std::string() : op.value;
    auto st = co_await ctx.registry.set_metadata(op.machine, op.key, std::move(value));
    if (!st) co_return registry_error(st.error());
    log::info("api", "machine metadata " + op.op,
              {{"machine", op.machine}, {"key", op.key}, {"value", op.value}});
  }
  Response r = empty_response(204);
  r.headers.push_back({"Content-Type", "application/json"});
  co_return r;
}

}  // namespace

Task<Result<std::shared_ptr<const std::vector<registry::UnitStateRecord>>>> states_for_page(
    ApiContext& ctx, std::uint16_t page) {
  auto& kept = listings_of(ctx);
  if (kept.states && reusable(kept.states_read, page, ctx)) co_return kept.states;
  std::shared_ptr<const std::vector<registry::UnitStateRecord>> shared;
  if (ctx.view) {
    // An error here (the store's revision unreadable) is left to the direct read to report.
    auto served = co_await ctx.view->states();
    if (served) shared = std::move(served).value();
  }
  if (!shared) {
    BOOST_OUTCOME_CO_TRY(auto states, co_await ctx.registry.list_states());
    shared = std::make_shared<const std::vector<registry::UnitStateRecord>>(std::move(states));
  }
  kept.states = shared;
  kept.states_read = std::chrono::steady_clock::now();
  co_return shared;
}

Task<Response> state_collection(const Request& req, ApiContext& ctx) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  auto page = requested_page(req, ctx);
  if (!page) co_return error_response(400, page.error().message);
  auto states = co_await states_for_page(ctx, page.value().page);
  if (!states) co_return registry_error(states.error());
  const std::string machine = first_value(req, "machineID");
  const std::string unit = first_value(req, "unitName");
  std::vector<const registry::UnitStateRecord*> matching;
  for (const auto& s : *states.value()) {
    if (!machine.empty() && s.machine != machine) continue;
    if (!unit.empty() && s.unit != unit) continue;
    matching.push_back(&s);
  }
  const auto slice = slice_page(page.value(), matching.size());
  UnitStatePage out;
  for (std::size_t i = slice.begin; i < slice.end; ++i)
    out.states.push_back(state_view(*matching[i]));
  out.next_page_token = slice.next_token;
  co_return json_response(200, encode(out));
}

Task<Response> state_item(const Request& req, ApiContext& ctx, const std::string& name) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  auto states = co_await ctx.registry.states_of(name);
  if (!states) co_return registry_error(states.error());
  if (!states.value().empty()) co_return json_response(200, encode(state_view(states.value()[0])));
  // fleet v1.0 panicked here; its intended answer:
  co_return error_response(404, "unit state does not exist");
}

Task<Response> machines(const Request& req, ApiContext& ctx) {
  if (req.method == "GET") co_return co_await list_machines(req, ctx);
  if (req.method == "PATCH") co_return co_await patch_machines(req, ctx);
  co_return error_response(405, "only GET and PATCH supported against this resource");
}

Task<Response> machine_action(const Request& req, ApiContext& ctx, const std::string& target) {
  auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0) co_return error_response(404, "page not found");
  const std::string id = target.substr(0, colon);
  const std::string action = target.substr(colon + 1);
  registry::Maintenance m;
  if (action == "cordon") {
    m.mode = registry::MaintenanceMode::cordoned;
  } else if (action == "drain") {
    m.mode = registry::MaintenanceMode::draining;
  } else if (action != "uncordon") {
    co_return error_response(404, "page not found");
  }
  if (req.method != "POST")
    co_return error_response(405, "only POST supported against this resource");
  if (m.mode == registry::MaintenanceMode::draining && !req.body.empty()) {
    auto j = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    const nlohmann::json* force = nullptr;  // not a ?: of iterators: see development.md
    if (j.is_object() && j.contains("force")) force = &j["force"];
    if (!j.is_object() || (force && !force->is_boolean()))
      co_return error_response(400, "unable to decode body: expected {\"force\": true|false}");
    m.force = force && force->get<bool>();
  }
  if (m.mode != registry::MaintenanceMode::none) {
    // Only a machine that is up can be cordoned: a typo must not hold a machine that never
    // comes. Lifting works for any ID, so a machine that left can still be uncordoned.
    auto machines = co_await ctx.registry.list_machines();
    if (!machines) co_return registry_error(machines.error());
    bool known = std::any_of(machines.value().begin(), machines.value().end(),
                             [&](const registry::MachineRecord& r) { return r.id == id; });
    if (!known) co_return error_response(404, "machine does not exist");
    m.since = std::chrono::duration_cast<std::chrono::seconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  }
  auto st = co_await ctx.registry.set_maintenance(id, m);
  if (!st) co_return registry_error(st.error());
  log::info("api", "machine " + action, {{"machine", id}, {"force", m.force ? "true" : "false"}});
  registry::EventRecord e;
  // cordoned, draining, uncordoned (if/else: no ?: temporaries in a coroutine, GCC 12)
  if (action == "drain") {
    e.kind = "draining";
  } else {
    e.kind = action + "ed";
  }
  e.machine = id;
  e.reason = "by API request";
  if (m.force) e.reason += ", forced";
  std::vector<registry::EventRecord> evs;
  evs.push_back(std::move(e));
  co_await ctx.registry.events().record(std::move(evs), "api");
  Response r = empty_response(204);
  r.headers.push_back({"Content-Type", "application/json"});
  co_return r;
}

Task<Response> metrics(const Request& req, ApiContext& ctx) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  namespace fam = metrics::families;
  // Without a shared registry (tests, tools) the scrape still shows the cluster gauges.
  std::unique_ptr<metrics::Metrics> local;
  metrics::Metrics* m = ctx.metrics;
  if (!m) {
    local = std::make_unique<metrics::Metrics>(ctx.options.version);
    m = local.get();
  }
  // Read per scrape: any fleetd answers for the whole cluster, leader or not.
  auto units = co_await ctx.registry.list_units();
  auto machines = co_await ctx.registry.list_machines();
  auto states = co_await ctx.registry.list_states();
  m->set(fam::api_registry_up, units && machines && states ? 1 : 0);
  if (units) {
    std::map<std::string, double> by_state{{"inactive", 0}, {"loaded", 0}, {"launched", 0}};
    for (const auto& u : units.value()) by_state[std::string(registry::to_string(u.desired))] += 1;
    m->clear(fam::units);
    for (const auto& [state, n] : by_state) m->set(fam::units, n, {{"desired_state", state}});
  }
  if (states) {
    std::map<std::string, double> by_active{
        {"active", 0}, {"activating", 0}, {"deactivating", 0}, {"failed", 0}, {"inactive", 0}};
    for (const auto& s : states.value()) {
      // Agents report systemd's ActiveState; anything else is one bucket, so a misbehaving
      // agent cannot grow the label set.
      auto it = by_active.find(s.active_state);
      if (it != by_active.end()) {
        it->second += 1;
      } else {
        by_active["other"] += 1;
      }
    }
    m->clear(fam::unit_states);
    for (const auto& [state, n] : by_active) m->set(fam::unit_states, n, {{"active_state", state}});
  }
  if (machines) m->set(fam::machines, static_cast<double>(machines.value().size()));
  // Named values, no temporaries in the co_return (GCC 12, Documentation/development.md).
  Response r = typed_response(200, "text/plain; version=0.0.4; charset=utf-8", m->render());
  co_return r;
}

}  // namespace fleet::api::server::detail
