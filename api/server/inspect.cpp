// Our additions: /fleet/v1/units/<name>/status and /journal (fleetctl status/journal without
// SSH), answered through the injected UnitInspector on the machine the unit is scheduled to.

#include <algorithm>
#include <charconv>

#include "api/server/detail/routes.h"
#include "api/server/detail/unit_view.h"
#include "api/server/unit_inspector.h"
#include "registry/registry.h"

namespace fleet::api::server::detail {

namespace {

std::string first_value(const Request& req, std::string_view name) {
  auto v = req.query_values(name);
  return v.empty() ? std::string() : v.front();
}

struct Target {
  std::optional<Response> error;
  std::string machine;
};

// Which machine to ask: `?machineID=` when given (needed for global units; it must be a live
// machine of the cluster), else the unit's schedule. The unit must exist either way. `not_placed`
// is the 404 text for a unit that is not scheduled anywhere.
Task<Target> target_machine(const Request& req, ApiContext& ctx, const std::string& name,
                            const std::string& global_error, const std::string& not_placed) {
  Target t;
  auto snap = co_await read_units(ctx.registry, name);
  if (!snap) {
    t.error = registry_error(snap.error());
    co_return t;
  }
  if (snap.value().units.empty()) {
    t.error = error_response(404, "unit does not exist");
    co_return t;
  }
  t.machine = first_value(req, "machineID");
  if (!req.header_values("X-Fleet-Proxied").empty() && !ctx.machine_id.empty() &&
      t.machine != ctx.machine_id) {
    t.error = error_response(503, "machine " + ctx.machine_id +
                                      " was asked by another fleetd for machine " +
                                      (t.machine.empty() ? std::string("-") : t.machine) +
                                      ": check that machine's API URL");
    co_return t;
  }
  if (!t.machine.empty()) {
    // Only a live machine of the cluster is asked: an arbitrary ID must not make this fleetd run
    // systemctl or journalctl for it, nor look like a proxying failure.
    auto machines = co_await ctx.registry.list_machines();
    if (!machines) {
      t.error = registry_error(machines.error());
    } else if (std::none_of(machines.value().begin(), machines.value().end(),
                            [&](const auto& m) { return m.id == t.machine; })) {
      t.error = error_response(404, "machine " + t.machine + " is not in the cluster");
    }
    co_return t;
  }
  const auto& rec = snap.value().units.front();
  // (named vector: GCC 12 miscompiles a braced list inside co_await)
  const std::vector<std::string> hashes(1, rec.hash);
  auto loaded = co_await load_contents(ctx.registry, ctx.contents, hashes);
  if (!loaded) {
    t.error = registry_error(loaded.error());
    co_return t;
  }
  const std::shared_ptr<const ParsedContent> content = loaded.value().front();
  if (content && content->global) {
    t.error = error_response(400, global_error);
    co_return t;
  }
  auto it = snap.value().schedule.find(name);
  if (it == snap.value().schedule.end() || it->second.empty()) {
    t.error = error_response(404, not_placed);
    co_return t;
  }
  t.machine = it->second;
  co_return t;
}

Response inspector_error(const Error& e) {
  switch (e.code) {
    case Errc::not_found:
      return error_response(404, e.message);
    case Errc::unavailable:
    case Errc::timeout:
      return error_response(503, e.message);
    case Errc::invalid_argument:
      return error_response(400, e.message);
    default:
      return error_response(500, e.message);
  }
}

// Go's strconv.ParseBool, which fleet's flags and query parameters use.
std::optional<bool> parse_bool(std::string_view s) {
  for (auto t : {"1", "t", "T", "TRUE", "true", "True"})
    if (s == t) return true;
  for (auto f : {"0", "f", "F", "FALSE", "false", "False"})
    if (s == f) return false;
  return std::nullopt;
}

bool is_journal_output(std::string_view s) {
  for (auto m : {"short", "short-full", "short-iso", "short-iso-precise", "short-precise",
                 "short-monotonic", "short-unix", "verbose", "export", "json", "json-pretty",
                 "json-sse", "json-seq", "cat", "with-unit"})
    if (s == m) return true;
  return false;
}

Response text_response(std::string body) {
  Response r;
  r.status = 200;
  r.headers.push_back({"Content-Type", "text/plain; charset=utf-8"});
  r.body = std::move(body);
  return r;
}

}  // namespace

Task<Response> unit_status(const Request& req, ApiContext& ctx, const std::string& name) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  auto t = co_await target_machine(req, ctx, name,
                                   "global unit " + name + " runs on many machines: pass machineID",
                                   "Unit " + name + " does not appear to be loaded.");
  if (t.error) co_return std::move(*t.error);
  if (!ctx.inspector) co_return error_response(501, "unit inspection is not available");
  auto out = co_await ctx.inspector->status(name, t.machine);
  if (!out) co_return inspector_error(out.error());
  Response r = text_response(std::move(out.value().text));
  r.headers.push_back({"Fleet-Exit-Code", std::to_string(out.value().exit_code)});
  r.headers.push_back({"Fleet-Machine-ID", t.machine});
  co_return r;
}

Task<Response> unit_journal(const Request& req, ApiContext& ctx, const std::string& name) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  JournalOptions opts;
  if (auto v = req.query_values("lines"); !v.empty()) {
    const std::string& s = v.front();
    int n = -1;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n < 0)
      co_return error_response(400, "invalid value \"" + s + "\" for lines");
    opts.lines = n;
  }
  if (auto v = req.query_values("follow"); !v.empty()) {
    auto b = parse_bool(v.front());
    if (!b) co_return error_response(400, "invalid value \"" + v.front() + "\" for follow");
    opts.follow = *b;
  }
  if (auto v = req.query_values("output"); !v.empty()) {
    if (!is_journal_output(v.front()))
      co_return error_response(400, "invalid value \"" + v.front() + "\" for output");
    opts.output = v.front();
  }
  auto t = co_await target_machine(req, ctx, name,
                                   "Unable to retrieve journal of global unit " + name + ".",
                                   "Unit " + name + " does not appear to be running.");
  if (t.error) co_return std::move(*t.error);
  if (!ctx.inspector) co_return error_response(501, "unit inspection is not available");
  auto stream = co_await ctx.inspector->journal(name, t.machine, opts);
  if (!stream) co_return inspector_error(stream.error());
  Response r = text_response({});
  r.headers.push_back({"Fleet-Machine-ID", t.machine});
  r.stream = std::move(stream).value();
  co_return r;
}

}  // namespace fleet::api::server::detail
