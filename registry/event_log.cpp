#include "registry/event_log.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

#include "common/log.h"

namespace fleet::registry {

namespace {

std::int64_t unix_ns(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

std::string time_key(std::int64_t ns) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020" PRId64, std::max<std::int64_t>(ns, 0));
  return buf;
}

// Two fleetds appending in the same nanosecond still write two keys.
std::string unique_suffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  char buf[12];
  std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rng() & 0xffffffffu));
  return buf;
}

std::string encode_event(const EventRecord& e) {
  nlohmann::json j{{"time", e.time}, {"kind", e.kind}};
  if (!e.unit.empty()) j["unit"] = e.unit;
  if (!e.machine.empty()) j["machine"] = e.machine;
  if (!e.reason.empty()) j["reason"] = e.reason;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One event from its JSON object (a key's value, or an element of a key's array).
Result<EventRecord> event_from_object(const nlohmann::json& j) {
  if (!j.is_object()) return Error{Errc::invalid_argument, "event not JSON"};
  EventRecord e;
  auto str = [&](const char* k) {
    auto it = j.find(k);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  e.time = str("time");
  e.kind = str("kind");
  e.unit = str("unit");
  e.machine = str("machine");
  e.reason = str("reason");
  if (auto it = j.find("position"); it != j.end() && it->is_number_integer())
    e.position = it->get<Revision>();
  if (e.kind.empty()) return Error{Errc::invalid_argument, "event without kind"};
  return e;
}

// Events of one append share a key (and so a revision, as keys of one txn always did): a mass
// change of 500 units costs etcd one put per kMaxPerKey events instead of one per event, which
// was a third of all the keys written to start 500 new units. The count ends the key name, so
// trimming by count reads keys only. Keys written one event per key (no count) still decode.
constexpr std::size_t kMaxPerKey = 200;

std::int64_t events_in_key(std::string_view key) {
  auto dash = key.rfind('-');
  if (dash == std::string_view::npos || dash + 1 >= key.size() || key[dash + 1] != 'n') return 1;
  return std::max<std::int64_t>(1, std::atoll(std::string(key.substr(dash + 2)).c_str()));
}

// The events of one key, each at the key's revision; what does not decode is skipped.
std::vector<EventRecord> decode_events(const KeyValue& kv) {
  std::vector<EventRecord> out;
  auto add = [&](Result<EventRecord> e) {
    if (!e) return;
    e.value().position = kv.mod_revision;
    out.push_back(std::move(e).value());
  };
  if (kv.value.empty() || kv.value.front() != '[') {
    add(event_from_json(kv.value));
    return out;
  }
  auto arr = nlohmann::json::parse(kv.value, nullptr, false);
  if (arr.is_discarded() || !arr.is_array()) return out;
  out.reserve(arr.size());
  for (const auto& j : arr) add(event_from_object(j));
  return out;
}

class KvEventStream final : public EventStream {
 public:
  explicit KvEventStream(std::unique_ptr<Watcher> w) : w_(std::move(w)) {}
  Task<Result<std::vector<EventRecord>>> next() override {
    while (true) {
      auto batch = co_await w_->next();
      if (!batch) co_return batch.error();
      if (batch.value().compact_revision != 0)
        co_return Error{Errc::not_found, "events after the requested position were trimmed"};
      std::vector<EventRecord> out;
      for (const auto& ev : batch.value().events) {
        if (ev.type != Event::Type::put) continue;  // trimming
        for (auto& e : decode_events(ev.kv)) out.push_back(std::move(e));
      }
      if (!out.empty()) co_return out;
    }
  }
  void cancel() override { w_->cancel(); }

 private:
  std::unique_ptr<Watcher> w_;
};

}  // namespace

bool matches(const EventFilter& f, const EventRecord& e) {
  if (!f.units.empty() && std::find(f.units.begin(), f.units.end(), e.unit) == f.units.end())
    return false;
  return f.machine.empty() || e.machine.rfind(f.machine, 0) == 0;
}

std::string to_json(const EventRecord& e) {
  nlohmann::json j{{"position", e.position}, {"time", e.time},       {"kind", e.kind},
                   {"unit", e.unit},         {"machine", e.machine}, {"reason", e.reason}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<EventRecord> event_from_json(std::string_view json) {
  return event_from_object(
      nlohmann::json::parse(json, nullptr, false));  // discarded: not an object
}

EventLog::EventLog(KvStore& kv, std::string prefix)
    : kv_(kv), dir_(std::move(prefix) + "events/") {}

std::vector<Op> EventLog::put_ops(std::vector<EventRecord> events) const {
  std::vector<Op> ops;
  const auto now = std::chrono::system_clock::now();
  const std::string time = log::timestamp_now();
  // Consecutive nanoseconds keep the keys of one call in order.
  std::int64_t ns = unix_ns(now);
  for (std::size_t i = 0; i < events.size(); i += kMaxPerKey) {
    const std::size_t end = std::min(events.size(), i + kMaxPerKey);
    std::string value = "[";
    for (std::size_t k = i; k < end; ++k) {
      if (events[k].time.empty()) events[k].time = time;
      if (k > i) value += ',';
      value += encode_event(events[k]);
    }
    value += ']';
    ops.push_back(
        Op::put(dir_ + time_key(ns++) + "-" + unique_suffix() + "-n" + std::to_string(end - i),
                std::move(value)));
  }
  return ops;
}

Task<Status> EventLog::append(std::vector<EventRecord> events) {
  co_return co_await write_in_chunks(kv_, put_ops(std::move(events)));
}

Task<void> EventLog::record(std::vector<EventRecord> events, std::string_view component) {
  if (events.empty()) co_return;
  auto st = co_await append(std::move(events));
  if (!st) log::warn(component, "cannot record events", {{"error", st.error().describe()}});
}

Task<Result<EventLog::Listing>> EventLog::list(EventFilter filter) {
  RangeRequest req;
  req.key = dir_;
  if (filter.since) req.key += time_key(unix_ns(*filter.since));
  req.range_end = prefix_end(dir_);
  auto r = co_await kv_.range(std::move(req));
  if (!r) co_return r.error();
  std::vector<EventRecord> out;
  for (const auto& kv : r.value().kvs) {
    if (kv.mod_revision <= filter.after) continue;
    for (auto& e : decode_events(kv))
      if (matches(filter, e)) out.push_back(std::move(e));
  }
  // Keys sort by writer's clock, positions by write order: a listing shows the order of the log
  // (clocks of different fleetds may disagree by a little).
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.position < b.position; });
  if (filter.limit && out.size() > filter.limit)
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(filter.limit));
  Listing listing{std::move(out), r.value().revision};
  co_return listing;
}

std::unique_ptr<EventStream> EventLog::watch(Revision after) {
  WatchRequest req;
  req.key = dir_;
  req.range_end = prefix_end(dir_);
  req.start_revision = after > 0 ? after + 1 : 0;
  return std::make_unique<KvEventStream>(kv_.watch(std::move(req)));
}

Task<Result<std::int64_t>> EventLog::trim(EventRetention r,
                                          std::chrono::system_clock::time_point now) {
  // One keys-only read (the leader trims once a minute; at most max_count keys are left after
  // each trim): every key before the age cutoff goes, then the oldest while more than
  // max_count events remain, counted from the key names. One range delete removes both.
  RangeRequest all;
  all.key = dir_;
  all.range_end = prefix_end(dir_);
  all.keys_only = true;
  auto keys = co_await kv_.range(all);
  if (!keys) co_return keys.error();
  const std::string cutoff = dir_ + time_key(unix_ns(now - r.max_age));
  std::int64_t total = 0;
  for (const auto& kv : keys.value().kvs) total += events_in_key(kv.key);
  const auto max = static_cast<std::int64_t>(r.max_count);
  std::int64_t deleted = 0;
  std::string last;  // the newest key to delete
  for (const auto& kv : keys.value().kvs) {
    if (kv.key >= cutoff && total - deleted <= max) break;
    deleted += events_in_key(kv.key);
    last = kv.key;
  }
  if (last.empty()) co_return 0;
  auto gone = co_await kv_.del(dir_, last + '\0');
  if (!gone) co_return gone.error();
  co_return deleted;
}

}  // namespace fleet::registry
