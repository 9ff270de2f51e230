#include "api/server/handler.h"

#include <chrono>
#include <exception>

#include "api/server/detail/routes.h"
#include "common/log.h"
#include "common/metrics.h"

namespace fleet::api::server {

// --- ContentCache ---

std::shared_ptr<const ParsedContent> ContentCache::find(const std::string& hash) const {
  auto it = entries_.find(hash);
  return it == entries_.end() ? nullptr : it->second;
}

std::shared_ptr<const ParsedContent> ContentCache::insert(const std::string& hash,
                                                          ParsedContent parsed) {
  if (entries_.size() >= capacity_) entries_.clear();
  auto p = std::make_shared<const ParsedContent>(std::move(parsed));
  entries_[hash] = p;
  return p;
}

namespace detail {

ApiError registry_failure(const Error& e) {
  if (e.code == Errc::unavailable || e.code == Errc::timeout) {
    log::warn("api", "registry unavailable", {{"error", e.describe()}});
    return {503, "fleet server unable to communicate with etcd"};
  }
  log::error("api", "registry call failed", {{"error", e.describe()}});
  return {500, e.message};
}

Response registry_error(const Error& e) {
  auto f = registry_failure(e);
  return error_response(f.code, f.message);
}

Result<PageToken> requested_page(const Request& req, const ApiContext& ctx) {
  auto values = req.query_values("nextPageToken");
  if (values.size() > 1) return fail(Errc::invalid_argument, "too many values for page token");
  if (values.empty()) return PageToken{ctx.options.token_limit, 1};
  BOOST_OUTCOME_TRY(auto tok, decode_page_token(values.front()));
  BOOST_OUTCOME_TRY(validate_page_token(tok, ctx.options.token_limit));
  return tok;
}

PageSlice slice_page(const PageToken& page, std::size_t total) {
  PageSlice s;
  const std::size_t limit = page.limit;
  const std::size_t start = (static_cast<std::size_t>(page.page) - 1) * limit;
  if (start >= total) {
    s.begin = s.end = total;
  } else {
    s.begin = start;
    s.end = std::min(total, start + limit);
  }
  // fleet: the next token is present iff this page was full, so an exact multiple yields one
  // extra, empty page. A page starting beyond the end is empty and has no token.
  if (start + limit <= total && page.page < 0xffff) s.next_token = page.next().encode();
  return s;
}

}  // namespace detail

namespace {

constexpr std::string_view kPrefixes[] = {"/fleet/v1", "/v1-alpha"};

// Splits "/a/b/c" into {"a","b","c"}; a trailing slash yields a final empty segment.
std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  if (path.empty()) return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.emplace_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// `label` is set to the route's pattern (unit and machine names replaced by {name}, {id}), the
// bounded value metrics use in place of the path.
Task<Response> route(const Request& req, ApiContext& ctx, std::string& label) {
  const std::string path = req.path();
  label = "other";
  if (path == "/") co_return error_response(405, "method not allowed");
  if (path == "/metrics") {
    label = path;
    co_return co_await detail::metrics(req, ctx);
  }
  std::string_view rest;
  bool matched = false;
  for (auto p : kPrefixes) {
    if (std::string_view(path).substr(0, p.size()) == p &&
        (path.size() == p.size() || path[p.size()] == '/')) {
      rest = std::string_view(path).substr(p.size());
      matched = true;
      break;
    }
  }
  if (!matched) co_return error_response(404, "page not found");
  if (rest.empty() || rest == "/") co_return error_response(405, "method not allowed");
  auto seg = segments(rest);
  const std::string& coll = seg[0];
  if (seg.size() == 1) {
    for (auto known : {"units", "state", "machines", "discovery", "reboot", "units:batchUpdate",
                       "units:batchDelete", "units:batchCreate", "events", "rollouts"})
      if (coll == known) label = "/fleet/v1/" + coll;
    if (coll.starts_with("reboot:")) label = "/fleet/v1/reboot:{action}";
    if (coll == "units") co_return co_await detail::units_collection(req, ctx);
    if (coll == "state") co_return co_await detail::state_collection(req, ctx);
    if (coll == "machines") co_return co_await detail::machines(req, ctx);
    if (coll == "discovery") co_return detail::discovery(req);
    if (coll == "events") co_return co_await detail::events(req, ctx);
    if (coll == "reboot") co_return co_await detail::reboot(req, ctx, "");
    if (coll == "rollouts") co_return co_await detail::rollouts(req, ctx, "");
    if (coll.starts_with("reboot:")) co_return co_await detail::reboot(req, ctx, coll.substr(7));
    if (coll == "units:batchUpdate") co_return co_await detail::units_batch_update(req, ctx);
    if (coll == "units:batchDelete") co_return co_await detail::units_batch_delete(req, ctx);
    if (coll == "units:batchCreate") co_return co_await detail::units_batch_create(req, ctx);
  } else if (seg.size() == 2 && !seg[1].empty()) {
    if (coll == "units" || coll == "state") label = "/fleet/v1/" + coll + "/{name}";
    if (coll == "machines") label = "/fleet/v1/machines/{id}";
    if (coll == "rollouts") label = "/fleet/v1/rollouts/{name}";
    if (coll == "rollouts") co_return co_await detail::rollouts(req, ctx, seg[1]);
    if (coll == "units") co_return co_await detail::unit_item(req, ctx, seg[1]);
    if (coll == "state") co_return co_await detail::state_item(req, ctx, seg[1]);
    if (coll == "machines") co_return co_await detail::machine_action(req, ctx, seg[1]);
  } else if (seg.size() == 3 && coll == "units" && !seg[1].empty()) {
    if (seg[2] == "status" || seg[2] == "journal") label = "/fleet/v1/units/{name}/" + seg[2];
    if (seg[2] == "status") co_return co_await detail::unit_status(req, ctx, seg[1]);
    if (seg[2] == "journal") co_return co_await detail::unit_journal(req, ctx, seg[1]);
  }
  co_return error_response(404, "page not found");
}

// Methods are client-chosen tokens: bound the label's cardinality.
std::string method_label(const std::string& m) {
  for (auto known : {"GET", "PUT", "PATCH", "DELETE", "POST", "HEAD"})
    if (m == known) return m;
  return "other";
}

}  // namespace

Task<Response> handle(const Request& req, ApiContext& ctx) {
  const auto start = std::chrono::steady_clock::now();
  Response res;
  std::string label = "other";
  const std::string path = req.path();
  if (path == "/healthz" || path == "/readyz") {
    // Probes answer whether or not fleetd is registered: that is what /readyz reports.
    label = path;
    if (req.method != "GET" && req.method != "HEAD") {
      res = error_response(405, "only GET supported against this resource");
    } else if (path == "/healthz") {
      res = detail::healthz();
    } else {
      res = co_await detail::readyz(ctx);
    }
  } else if (path == "/ui" || path.starts_with("/ui/")) {
    // Static files: served while the registry is unreachable, so the page can say so.
    label = "/ui";
    res = detail::ui(req);
  } else if (ctx.available && !ctx.available()) {
    res = error_response(503, "fleet server unable to communicate with etcd");
  } else {
    std::exception_ptr crashed;
    try {
      res = co_await route(req, ctx, label);
    } catch (const std::exception& e) {
      log::error("api", "handler threw", {{"target", req.target}, {"error", e.what()}});
      crashed = std::current_exception();
    } catch (...) {
      crashed = std::current_exception();
    }
    if (crashed) res = error_response(500, "internal error");
  }
  res.set_header("Server", "fleetd/" + ctx.options.version);
  if (ctx.metrics) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::string code = std::to_string(res.status);
    ctx.metrics->add(metrics::families::api_requests, 1,
                     {{"route", label}, {"method", method_label(req.method)}, {"code", code}});
    ctx.metrics->observe(metrics::families::api_request_duration, seconds,
                         {{"route", label}, {"code", code}});
  }
  co_return res;
}

}  // namespace fleet::api::server
