// GET /fleet/v1/events: the cluster's event history, filtered, and with follow=true a stream of
// JSON lines that continues with each new event (registry/event_log.h).
//
// Query: unit (repeatable), machine (ID prefix), since (RFC 3339 UTC time), after (a position:
// only later events; a client that lost its stream resumes with the last position it saw),
// limit (the newest N), follow (true: stream).
#include <charconv>
#include <ctime>
#include <memory>
#include <string>

#include "api/server/detail/routes.h"
#include "registry/registry.h"

namespace fleet::api::server::detail {

namespace {

using registry::EventRecord;

// "2026-12-06T07:55:01Z" or with fractional seconds; UTC only ('Z').
std::optional<std::chrono::system_clock::time_point> parse_time(const std::string& s) {
  std::tm tm{};
  int sec = 0;
  char rest[32] = {};
  if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%31s", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &sec, rest) < 7)
    return std::nullopt;
  std::string tail = rest;
  double frac = 0;
  if (!tail.empty() && tail[0] == '.') {
    const auto z = tail.find('Z');
    if (z == std::string::npos) return std::nullopt;
    frac = std::strtod(("0" + tail.substr(0, z)).c_str(), nullptr);
    tail = tail.substr(z);
  }
  if (tail != "Z") return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  tm.tm_sec = sec;
  std::time_t t = timegm(&tm);
  if (t == -1) return std::nullopt;
  // The clock counts nanoseconds in 64 bits (until 2262): later times mean "the future".
  constexpr std::time_t kYear2200 = 7258118400;
  if (t > kYear2200) t = kYear2200;
  return std::chrono::system_clock::from_time_t(t) +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(
             std::chrono::duration<double>(frac));
}

bool parse_count(const std::string& s, std::int64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size() && out >= 0;
}

std::string lines(const std::vector<EventRecord>& events) {
  std::string out;
  for (const auto& e : events) out += registry::to_json(e) + "\n";
  return out;
}

// The listing first, then every new event that matches, one JSON object per line.
class EventFollow final : public BodyStream {
 public:
  EventFollow(std::unique_ptr<registry::EventStream> watch, registry::EventFilter filter,
              std::string first)
      : watch_(std::move(watch)), filter_(std::move(filter)), first_(std::move(first)) {}

  Task<Result<std::optional<std::string>>> next() override {
    if (!first_.empty()) {
      std::optional<std::string> piece = std::move(first_);
      first_.clear();
      co_return piece;
    }
    while (true) {
      auto batch = co_await watch_->next();
      if (!batch) co_return batch.error();
      std::vector<EventRecord> wanted;
      for (auto& e : batch.value())
        if (registry::matches(filter_, e)) wanted.push_back(std::move(e));
      if (!wanted.empty()) {
        std::optional<std::string> piece = lines(wanted);
        co_return piece;
      }
    }
  }

 private:
  std::unique_ptr<registry::EventStream> watch_;
  registry::EventFilter filter_;
  std::string first_;
};

}  // namespace

Task<Response> events(const Request& req, ApiContext& ctx) {
  if (req.method != "GET")
    co_return error_response(405, "only GET supported against this resource");
  registry::EventFilter f;
  f.units = req.query_values("unit");
  if (auto m = req.query_values("machine"); !m.empty()) f.machine = m.front();
  if (auto s = req.query_values("since"); !s.empty()) {
    f.since = parse_time(s.front());
    if (!f.since) co_return error_response(400, "since: expected an RFC 3339 UTC time");
  }
  if (auto a = req.query_values("after"); !a.empty()) {
    if (!parse_count(a.front(), f.after))
      co_return error_response(400, "after: expected a position (an integer of 0 or more)");
  }
  if (auto l = req.query_values("limit"); !l.empty()) {
    std::int64_t n = 0;
    if (!parse_count(l.front(), n))
      co_return error_response(400, "limit: expected an integer of 0 or more");
    f.limit = static_cast<std::size_t>(n);
  }
  bool follow = false;
  if (auto fl = req.query_values("follow"); !fl.empty()) {
    if (fl.front() != "true" && fl.front() != "false")
      co_return error_response(400, "follow: expected true or false");
    follow = fl.front() == "true";
  }
  auto listed = co_await ctx.registry.events().list(f);
  if (!listed) co_return registry_error(listed.error());
  if (!follow) {
    std::string body = "{\"events\":[";
    bool first = true;
    for (const auto& e : listed.value().events) {
      if (!first) body += ',';
      first = false;
      body += registry::to_json(e);
    }
    body += "]}";
    Response r = json_response(200, std::move(body));
    co_return r;
  }
  auto watch = ctx.registry.events().watch(listed.value().revision);
  f.limit = 0;  // the limit was for the listing
  Response r = typed_response(200, "application/x-ndjson", "");
  r.stream =
      std::make_shared<EventFollow>(std::move(watch), std::move(f), lines(listed.value().events));
  co_return r;
}

}  // namespace fleet::api::server::detail
