// /fleet/v1/units and /fleet/v1/units/<name>.

#include <set>
#include <string_view>

#include "api/server/detail/routes.h"
#include "api/server/detail/unit_view.h"
#include "common/log.h"
#include "common/strings.h"
#include "registry/cluster_view.h"
#include "registry/registry.h"
#include "unitfile/detail/go_text.h"
#include "unitfile/requirements.h"
#include "unitfile/unit_file.h"
#include "unitfile/unit_name.h"

namespace fleet::api::server::detail {

Task<Result<std::shared_ptr<const UnitsSnapshot>>> units_for_page(ApiContext& ctx,
                                                                  std::uint16_t page) {
  auto& kept = listings_of(ctx);
  if (kept.units && reusable(kept.units_read, page, ctx)) co_return kept.units;
  std::shared_ptr<const UnitsSnapshot> shared;
  if (ctx.view) {
    // An error here (the store's revision unreadable) is left to the direct read to report.
    auto served = co_await ctx.view->units();
    if (served) shared = std::move(served).value();
  }
  if (!shared) {
    const std::optional<std::string> all;
    BOOST_OUTCOME_CO_TRY(auto snap, co_await read_units(ctx.registry, all));
    shared = std::make_shared<const UnitsSnapshot>(std::move(snap));
  }
  kept.units = shared;
  kept.units_read = std::chrono::steady_clock::now();
  co_return shared;
}

bool is_template(const std::string& name) {
  auto info = unitfile::parse_unit_name(name);
  return info && info->is_template();
}

NewContent build_content(const Unit& unit) {
  std::vector<unitfile::UnitOption> opts;
  opts.reserve(unit.options.size());
  for (const auto& o : unit.options) opts.push_back({o.section, o.name, o.value});
  auto uf = unitfile::UnitFile::from_options(std::move(opts));
  return NewContent{uf.serialize(), uf.hash(), unitfile::validate_options(uf, unit.name)};
}

namespace {

using registry::TargetState;
using registry::UnitRecord;

// `?view=basic` (beyond fleet): each unit without its options, with its hash, Global flag and
// description instead: what list-unit-files prints, at a fraction of the bytes to send and parse.
// `full` (the default) is fleet's.
Result<bool> basic_view_requested(const Request& req) {
  auto v = req.query_values("view");
  if (v.empty()) return false;
  if (v.size() > 1) return fail(Errc::invalid_argument, "too many values for view");
  if (v.front() == "basic") return true;
  if (v.front() == "full") return false;
  return fail(Errc::invalid_argument,
              "view must be basic or full, not " + unitfile::detail::go_quote(v.front()));
}

Task<Response> list_units(const Request& req, ApiContext& ctx) {
  auto page = requested_page(req, ctx);
  if (!page) co_return error_response(400, page.error().message);
  const auto basic = basic_view_requested(req);
  if (!basic) co_return error_response(400, basic.error().message);
  auto read = co_await units_for_page(ctx, page.value().page);
  if (!read) co_return registry_error(read.error());
  const UnitsSnapshot& snap = *read.value();
  const auto slice = slice_page(page.value(), snap.units.size());
  std::vector<std::string> hashes;
  for (std::size_t i = slice.begin; i < slice.end; ++i) hashes.push_back(snap.units[i].hash);
  auto loaded = co_await load_contents(ctx.registry, ctx.contents, hashes);
  if (!loaded) co_return registry_error(loaded.error());
  // Each unit's options as its content's cached encoding (the entries stay alive through
  // `contents`, held until the page is written).
  const std::vector<std::shared_ptr<const ParsedContent>>& contents = loaded.value();
  UnitPage out;
  std::vector<std::string_view> options_json;
  for (std::size_t i = slice.begin; i < slice.end; ++i) {
    const auto& rec = snap.units[i];
    const ParsedContent* content = contents[i - slice.begin].get();
    const bool cached = content && !content->options_json.empty();
    out.units.push_back(unit_view(rec, snap, content, !cached && !basic.value()));
    std::string_view encoded;  // (if/else, not ?: on class values: GCC 12 coroutines)
    if (basic.value()) {
      Unit& u = out.units.back();
      u.hash = rec.hash;
      u.global = content && content->global;
      if (content) u.description = content->description;
    } else if (cached) {
      encoded = content->options_json;
    }
    options_json.push_back(encoded);
  }
  out.next_page_token = slice.next_token;
  co_return json_response(200, encode(out, options_json));
}

Task<Response> get_unit(ApiContext& ctx, const std::string& name) {
  auto snap = co_await read_units(ctx.registry, name);
  if (!snap) co_return registry_error(snap.error());
  if (snap.value().units.empty()) co_return error_response(404, "unit does not exist");
  const auto& rec = snap.value().units.front();
  // (named vector: GCC 12 miscompiles a braced list inside co_await)
  const std::vector<std::string> hashes(1, rec.hash);
  auto loaded = co_await load_contents(ctx.registry, ctx.contents, hashes);
  if (!loaded) co_return registry_error(loaded.error());
  co_return json_response(200, encode(unit_view(rec, snap.value(), loaded.value().front().get())));
}

// Unit changes made through the API become events (registry/event_log.h) once stored; a failed
// append is logged by EventLog::record and does not fail the request, whose change is done.
registry::EventRecord unit_event(std::string kind, std::string unit, std::string reason) {
  registry::EventRecord e;
  e.kind = std::move(kind);
  e.unit = std::move(unit);
  e.reason = std::move(reason);
  return e;
}

Task<Response> delete_unit(ApiContext& ctx, const std::string& name) {
  auto st = co_await ctx.registry.destroy_unit(name);
  if (!st) {
    if (st.error().code == Errc::not_found) co_return error_response(404, "unit does not exist");
    co_return registry_error(st.error());
  }
  log::info("api", "destroyed unit", {{"unit", name}});
  std::vector<registry::EventRecord> evs;  // no braced list: GCC 12 coroutine bug
  evs.push_back(unit_event("destroyed", name, "by API request"));
  co_await ctx.registry.events().record(std::move(evs), "api");
  co_return empty_response(204);
}

// Step 1 of a PUT (Documentation/api.md): exactly one Content-Type whose media type is
// application/json.
std::optional<Response> check_content_type(const Request& req) {
  auto values = req.header_values("Content-Type");
  if (values.size() != 1)
    return error_response(415, "expected 1 Content-Type, got " + std::to_string(values.size()));
  std::string_view media = values[0].substr(0, values[0].find(';'));
  if (!iequals(trim(media), "application/json"))
    return error_response(415, "only acceptable Content-Type is application/json");
  return std::nullopt;
}

Task<Response> put_unit(const Request& req, ApiContext& ctx, const std::string& name) {
  if (auto bad = check_content_type(req)) co_return std::move(*bad);
  auto decoded = decode_unit(req.body);
  if (!decoded) co_return error_response(400, "unable to decode body: " + decoded.error().message);
  Unit unit = std::move(decoded).value();
  if (unit.name.empty()) unit.name = name;
  if (unit.name != name)
    co_return error_response(400, "name in URL \"" + name +
                                      "\" differs from unit name in request body \"" + unit.name +
                                      "\"");
  if (auto st = unitfile::validate_unit_name(name); !st)
    co_return error_response(400, st.error().message);
  // fleet stored an invalid desiredState verbatim; we reject it on every path.
  std::optional<TargetState> desired;
  if (!unit.desired_state.empty()) {
    desired = registry::parse_target_state(unit.desired_state);
    if (!desired)
      co_return error_response(400, "invalid value \"" + unit.desired_state + "\" for JobState");
  }
  // Templates are never activated, whichever path the request takes.
  if (desired && *desired != TargetState::inactive && is_template(name))
    co_return error_response(400, "cannot activate template \"" + name + "\"");

  auto existing = co_await ctx.registry.get_unit(name);
  if (!existing) co_return registry_error(existing.error());

  if (!existing.value()) {
    if (unit.options.empty())
      co_return error_response(409, "unit does not exist and options field empty");
    auto content = build_content(unit);
    if (!content.valid) co_return error_response(400, content.valid.error().message);
    UnitRecord rec{name, content.hash, desired.value_or(TargetState::inactive), 0};
    auto st = co_await ctx.registry.create_unit(rec, std::move(content.text));
    if (!st) {
      if (st.error().code == Errc::already_exists)
        co_return error_response(409, "unit " + name + " was created concurrently");
      co_return registry_error(st.error());
    }
    log::info("api", "created unit",
              {{"unit", name}, {"desired", registry::to_string(rec.desired)}});
    std::vector<registry::EventRecord> evs;  // no braced list: GCC 12 coroutine bug
    evs.push_back(unit_event("submitted", name,
                             "desired state " + std::string(registry::to_string(rec.desired))));
    co_await ctx.registry.events().record(std::move(evs), "api");
    co_return empty_response(201);
  }

  const UnitRecord& cur = *existing.value();
  if (!unit.options.empty()) {
    // fleet skipped ValidateOptions when replacing; we validate on every path.
    auto content = build_content(unit);
    if (content.hash != cur.hash) {
      if (!content.valid) co_return error_response(400, content.valid.error().message);
      UnitRecord rec{name, content.hash, desired.value_or(TargetState::inactive), 0};
      auto st = co_await ctx.registry.replace_unit(cur, rec, std::move(content.text));
      if (!st) {
        if (st.error().code == Errc::not_found)
          co_return error_response(404, "unit does not exist");
        if (st.error().code == Errc::conflict)
          co_return error_response(409, "unit " + name + " changed concurrently");
        co_return registry_error(st.error());
      }
      log::info("api", "replaced unit",
                {{"unit", name}, {"desired", registry::to_string(rec.desired)}});
      std::vector<registry::EventRecord> evs;  // no braced list: GCC 12 coroutine bug
      evs.push_back(unit_event("replaced", name,
                               "new content " + rec.hash.substr(0, 7) + ", desired state " +
                                   std::string(registry::to_string(rec.desired))));
      co_await ctx.registry.events().record(std::move(evs), "api");
      co_return empty_response(201);
    }
  }

  if (!desired) co_return error_response(409, "must provide DesiredState to update existing unit");
  auto st = co_await ctx.registry.set_desired_state(cur, *desired);
  if (!st) {
    if (st.error().code == Errc::not_found) co_return error_response(404, "unit does not exist");
    co_return registry_error(st.error());
  }
  if (*desired != cur.desired) {
    log::info("api", "set desired state",
              {{"unit", name}, {"desired", registry::to_string(*desired)}});
    std::vector<registry::EventRecord> evs;  // no braced list: GCC 12 coroutine bug
    evs.push_back(unit_event("desired", name,
                             std::string(registry::to_string(*desired)) + " (was " +
                                 std::string(registry::to_string(cur.desired)) + ")"));
    co_await ctx.registry.events().record(std::move(evs), "api");
  }
  co_return empty_response(204);
}

// Beyond fleet: many units per request, so that `fleetctl start` of 500 units costs a few etcd
// txns instead of two round trips per unit. Each unit is judged as its single-unit request would
// be; one unit's error does not stop the others.
constexpr std::size_t kMaxBatch = 10000;

std::optional<Response> check_batch_request(const Request& req) {
  if (req.method != "POST") return error_response(405, "only POST supported against this resource");
  return check_content_type(req);
}

Result<std::vector<Unit>> batch_units(const Request& req) {
  auto page = decode_unit_page(req.body);
  if (!page) return fail(Errc::invalid_argument, "unable to decode body: " + page.error().message);
  if (page.value().units.size() > kMaxBatch)
    return fail(Errc::invalid_argument,
                "at most " + std::to_string(kMaxBatch) + " units in one request");
  // A unit named twice has no single answer (which desired state wins? which entry reports
  // the 404 of an already deleted unit?): the whole request is refused before anything changes.
  std::set<std::string_view> seen;
  for (const auto& u : page.value().units)
    if (!seen.insert(u.name).second)
      return fail(Errc::invalid_argument,
                  "unit \"" + u.name + "\" appears more than once in the request");
  return std::move(page.value().units);
}

void set_failure(BatchResult& r, const Error& e) {
  if (e.code == Errc::not_found) {
    r.code = 404;
    r.message = "unit does not exist";
    return;
  }
  auto f = registry_failure(e);
  r.code = f.code;
  r.message = f.message;
}

// A batch entry's desiredState (not empty), as the single PUT judges it.
std::optional<ApiError> desired_problem(const Unit& u, std::optional<TargetState>& desired) {
  desired = registry::parse_target_state(u.desired_state);
  if (!desired) return ApiError{400, "invalid value \"" + u.desired_state + "\" for JobState"};
  if (*desired != TargetState::inactive && is_template(u.name))
    return ApiError{400, "cannot activate template \"" + u.name + "\""};
  return std::nullopt;
}

// Why a batch entry cannot be applied, as the single PUT would answer; nullopt when it can.
std::optional<ApiError> batch_update_problem(const Unit& u, std::optional<TargetState>& desired) {
  if (auto st = unitfile::validate_unit_name(u.name); !st) return ApiError{400, st.error().message};
  if (u.desired_state.empty())
    return ApiError{409, "must provide DesiredState to update existing unit"};
  return desired_problem(u, desired);
}

}  // namespace

Task<Response> units_batch_update(const Request& req, ApiContext& ctx) {
  if (auto bad = check_batch_request(req)) co_return std::move(*bad);
  auto units = batch_units(req);
  if (!units) co_return error_response(400, units.error().message);
  BatchResults out;
  std::vector<std::pair<std::string, TargetState>> changes;
  std::vector<std::size_t> at;  // result index of each change
  for (const auto& u : units.value()) {
    auto& r = out.results.emplace_back(BatchResult{u.name, 204, {}});
    std::optional<TargetState> desired;
    if (auto problem = batch_update_problem(u, desired)) {
      r.code = problem->code;
      r.message = problem->message;
      continue;
    }
    changes.emplace_back(u.name, *desired);
    at.push_back(out.results.size() - 1);
  }
  auto statuses = co_await ctx.registry.set_desired_states(changes);
  std::vector<registry::EventRecord> evs;
  for (std::size_t k = 0; k < at.size(); ++k) {
    if (statuses[k]) {
      log::info("api", "set desired state",
                {{"unit", changes[k].first}, {"desired", registry::to_string(changes[k].second)}});
      evs.push_back(unit_event("desired", changes[k].first,
                               std::string(registry::to_string(changes[k].second))));
    } else {
      set_failure(out.results[at[k]], statuses[k].error());
    }
  }
  co_await ctx.registry.events().record(std::move(evs), "api");
  co_return json_response(200, encode(out));
}

namespace {

// An entry of batchCreate: why it cannot be created, as a PUT of a new unit would answer.
std::optional<ApiError> batch_create_problem(const Unit& u, std::optional<TargetState>& desired) {
  if (auto st = unitfile::validate_unit_name(u.name); !st) return ApiError{400, st.error().message};
  if (!u.desired_state.empty())
    if (auto problem = desired_problem(u, desired)) return problem;
  if (u.options.empty()) return ApiError{409, "unit does not exist and options field empty"};
  return std::nullopt;
}

}  // namespace

Task<Response> units_batch_create(const Request& req, ApiContext& ctx) {
  if (auto bad = check_batch_request(req)) co_return std::move(*bad);
  auto units = batch_units(req);
  if (!units) co_return error_response(400, units.error().message);
  BatchResults out;
  std::vector<std::pair<UnitRecord, std::string>> creates;
  std::vector<std::size_t> at;
  for (const auto& u : units.value()) {
    auto& r = out.results.emplace_back(BatchResult{u.name, 201, {}});
    std::optional<TargetState> desired;
    auto problem = batch_create_problem(u, desired);
    std::optional<NewContent> content;
    if (!problem) {
      content.emplace(build_content(u));
      if (!content->valid) problem = ApiError{400, content->valid.error().message};
    }
    if (problem) {
      r.code = problem->code;
      r.message = problem->message;
      continue;
    }
    UnitRecord rec{u.name, content->hash, desired.value_or(TargetState::inactive), 0};
    creates.emplace_back(std::move(rec), std::move(content->text));
    at.push_back(out.results.size() - 1);
  }
  std::vector<TargetState> states;
  for (const auto& c : creates) states.push_back(c.first.desired);
  auto statuses = co_await ctx.registry.create_units(std::move(creates));
  std::vector<registry::EventRecord> evs;
  for (std::size_t k = 0; k < at.size(); ++k) {
    auto& r = out.results[at[k]];
    if (statuses[k]) {
      log::info("api", "created unit",
                {{"unit", r.name}, {"desired", registry::to_string(states[k])}});
      evs.push_back(unit_event("submitted", r.name,
                               "desired state " + std::string(registry::to_string(states[k]))));
    } else if (statuses[k].error().code == Errc::already_exists) {
      r.code = 409;
      r.message = "unit " + r.name + " already exists";
    } else {
      set_failure(r, statuses[k].error());
    }
  }
  co_await ctx.registry.events().record(std::move(evs), "api");
  co_return json_response(200, encode(out));
}

Task<Response> units_batch_delete(const Request& req, ApiContext& ctx) {
  if (auto bad = check_batch_request(req)) co_return std::move(*bad);
  auto units = batch_units(req);
  if (!units) co_return error_response(400, units.error().message);
  BatchResults out;
  std::vector<std::string> names;
  std::vector<std::size_t> at;
  for (const auto& u : units.value()) {
    auto& r = out.results.emplace_back(BatchResult{u.name, 204, {}});
    if (auto st = unitfile::validate_unit_name(u.name); !st) {
      r.code = 400;
      r.message = st.error().message;
      continue;
    }
    names.push_back(u.name);
    at.push_back(out.results.size() - 1);
  }
  auto statuses = co_await ctx.registry.destroy_units(names);
  std::vector<registry::EventRecord> evs;
  for (std::size_t k = 0; k < names.size(); ++k) {
    if (statuses[k]) {
      log::info("api", "destroyed unit", {{"unit", names[k]}});
      evs.push_back(unit_event("destroyed", names[k], "by API request"));
    } else {
      set_failure(out.results[at[k]], statuses[k].error());
    }
  }
  co_await ctx.registry.events().record(std::move(evs), "api");
  co_return json_response(200, encode(out));
}

Task<Response> units_collection(const Request& req, ApiContext& ctx) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  co_return co_await list_units(req, ctx);
}

Task<Response> unit_item(const Request& req, ApiContext& ctx, const std::string& name) {
  if (req.method == "GET") co_return co_await get_unit(ctx, name);
  if (req.method == "PUT") co_return co_await put_unit(req, ctx, name);
  if (req.method == "DELETE") co_return co_await delete_unit(ctx, name);
  co_return error_response(405, "only GET, PUT and DELETE supported against this resource");
}

}  // namespace fleet::api::server::detail
