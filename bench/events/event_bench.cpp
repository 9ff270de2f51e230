// The event history on a real etcd: how long an event takes from its append to a client
// watching the stream, next to the same path for a bare etcd put and watch (the physical limit,
// measured in the same run), and what recording events adds to a batch of scheduling writes.
//
// Targets (issue #15): stream latency p99 < 50 ms; events cost within 5 % of a 500-unit start.
// The second figure here is the registry side of that cost: the writes of 500 schedule decisions
// with and without their 500 events.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "common/log.h"
#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/integration/engine/etcd_node.h"

using namespace fleet;
using namespace fleet::testing;
using SteadyClock = std::chrono::steady_clock;

namespace {

double ms(SteadyClock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

struct Arrivals {
  std::mutex mu;
  std::map<std::string, SteadyClock::time_point> at;
  void seen(const std::string& id) {
    std::lock_guard lk(mu);
    at.emplace(id, SteadyClock::now());
  }
  bool has(const std::string& id) {
    std::lock_guard lk(mu);
    return at.count(id) > 0;
  }
  SteadyClock::time_point when(const std::string& id) {
    std::lock_guard lk(mu);
    return at.at(id);
  }
};

bool wait_for(Arrivals& a, const std::string& id) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(5);
  while (!a.has(id)) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::yield();
  }
  return true;
}

}  // namespace

int main() {
  log::set_level(log::Level::warn);
  constexpr int kSamples = 500;
  EtcdOptions eo;
  eo.label = "event-bench";
  EtcdCluster etcd(eo);
  EtcdNode writer(etcd.endpoints());
  EtcdNode watcher(etcd.endpoints());

  // --- Stream latency: append one event, time until the watching client has it.
  Arrivals events;
  auto stream = watcher.on_loop([&] { return watcher.reg().events().watch(0); });
  watcher.spawn([](registry::EventStream* s, Arrivals* a) -> registry::Task<void> {
    while (true) {
      auto batch = co_await s->next();
      if (!batch) co_return;
      for (const auto& e : batch.value()) a->seen(e.unit);
    }
  }(stream.get(), &events));
  // --- The same path for a bare key: put, watch.
  Arrivals raw;
  auto raw_watch = watcher.on_loop([&] {
    registry::WatchRequest w;
    w.key = "/bench/raw/";
    w.range_end = registry::prefix_end(w.key);
    return watcher.kv().watch(std::move(w));
  });
  watcher.spawn([](registry::Watcher* w, Arrivals* a) -> registry::Task<void> {
    while (true) {
      auto batch = co_await w->next();
      if (!batch) co_return;
      for (const auto& e : batch.value().events) a->seen(e.kv.key.substr(11));
    }
  }(raw_watch.get(), &raw));

  std::vector<double> event_ms, raw_ms;
  for (int i = 0; i < kSamples; ++i) {
    const std::string id = "u" + std::to_string(i) + ".service";
    registry::EventRecord e;
    e.kind = "scheduled";
    e.unit = id;
    e.machine = "m1";
    e.reason = "bench";
    std::vector<registry::EventRecord> one{e};
    const auto t0 = SteadyClock::now();
    if (!writer.call(writer.reg().events().append(std::move(one)))) return 1;
    if (!wait_for(events, id)) return 1;
    event_ms.push_back(ms(events.when(id) - t0));
    const auto t1 = SteadyClock::now();
    if (!writer.call(writer.kv().put("/bench/raw/" + id, "x"))) return 1;
    if (!wait_for(raw, id)) return 1;
    raw_ms.push_back(ms(raw.when(id) - t1));
  }
  const double p50 = percentile(event_ms, 0.5), p99 = percentile(event_ms, 0.99);
  const double raw50 = percentile(raw_ms, 0.5), raw99 = percentile(raw_ms, 0.99);
  std::printf("event stream latency, append -> watching client (%d samples):\n", kSamples);
  std::printf("  events:        p50 %.2f ms  p99 %.2f ms   (target p99 < 50 ms: %s)\n", p50, p99,
              p99 < 50 ? "met" : "MISSED");
  std::printf("  bare etcd put: p50 %.2f ms  p99 %.2f ms   (physical limit)\n", raw50, raw99);
  std::printf("  ratio to the limit: p50 %.2fx  p99 %.2fx\n", p50 / raw50, p99 / raw99);

  // --- What events add to the writes of 500 scheduling decisions (chunks of 128 ops, as the
  // engine writes them), best of 5.
  auto write_batch = [&](int round, bool with_events) {
    std::vector<registry::Op> ops;
    for (int i = 0; i < 500; ++i)
      ops.push_back(registry::Op::put(
          "/bench/schedule/" + std::to_string(round) + "/u" + std::to_string(i), "m1"));
    const auto t0 = SteadyClock::now();
    for (std::size_t i = 0; i < ops.size(); i += 128) {
      registry::TxnRequest txn;
      txn.success.assign(ops.begin() + static_cast<std::ptrdiff_t>(i),
                         ops.begin() + static_cast<std::ptrdiff_t>(std::min(ops.size(), i + 128)));
      if (!writer.call(writer.kv().txn(std::move(txn)))) return -1.0;
    }
    if (with_events) {
      std::vector<registry::EventRecord> evs(500);
      for (int i = 0; i < 500; ++i) {
        evs[static_cast<std::size_t>(i)].kind = "scheduled";
        evs[static_cast<std::size_t>(i)].unit = "u" + std::to_string(i) + ".service";
        evs[static_cast<std::size_t>(i)].machine = "m1";
        evs[static_cast<std::size_t>(i)].reason = "target state launched and unit not scheduled";
      }
      if (!writer.call(writer.reg().events().append(std::move(evs)))) return -1.0;
    }
    return ms(SteadyClock::now() - t0);
  };
  double without = 1e9, with = 1e9;
  for (int r = 0; r < 5; ++r) {
    without = std::min(without, write_batch(2 * r, false));
    with = std::min(with, write_batch(2 * r + 1, true));
  }
  std::printf("500 schedule writes: %.1f ms; with their 500 events: %.1f ms (+%.0f %%)\n", without,
              with, 100.0 * (with - without) / without);
  std::printf(
      "  (registry side only; a 500-unit start also waits on systemd, ~1 s on 3 hosts,\n"
      "   so the share of events in the start is this difference over that time)\n");
  stream->cancel();
  raw_watch->cancel();
  return 0;
}
