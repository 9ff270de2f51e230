// EtcdKv against one real etcd member (started by the test harness): the registry's hot paths
// with fleet-shaped keys, each figure printed next to its target. Not part of CTest.
//
//   build/bench/registry/etcd_kv_bench [units=10000] [machines=1000] [watch_writes=1000]

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "common/testing/run.h"
#include "registry/etcd/etcd_kv.h"
#include "tests/harness/etcd/etcd_cluster.h"

using namespace fleet;
using namespace fleet::registry;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string unit_name(int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "app-%05d.service", i);
  return buf;
}

std::string machine_id(int i) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%032x", i * 2654435761u);
  return buf;
}

// Puts keys[i] = values[i] in txns of at most max_txn_ops ops, `inflight` txns at a time.
Task<Status> put_batched(KvStore& kv, const std::vector<std::pair<std::string, std::string>>& kvs,
                         std::size_t begin, std::size_t end, std::size_t step) {
  std::size_t max = kv.max_txn_ops();
  for (std::size_t i = begin; i < end; i += step * max) {
    TxnRequest t;
    for (std::size_t k = i; k < std::min(i + max, end); ++k) {
      t.success.push_back(Op::put(kvs[k].first, kvs[k].second));
    }
    auto r = co_await kv.txn(std::move(t));
    if (!r) co_return r.error();
  }
  co_return ok();
}

struct Batched {
  std::size_t done = 0;
  bool failed = false;
};

double write_batched(boost::asio::io_context& ioc, KvStore& kv,
                     const std::vector<std::pair<std::string, std::string>>& kvs,
                     std::size_t inflight) {
  auto t0 = Clock::now();
  Batched b;
  std::size_t max = kv.max_txn_ops();
  for (std::size_t lane = 0; lane < inflight; ++lane) {
    testing::spawn(ioc,
                   [](KvStore& k, const auto& all, std::size_t start, std::size_t step,
                      Batched& out) -> Task<void> {
                     auto st = co_await put_batched(k, all, start, all.size(), step);
                     if (!st) {
                       std::fprintf(stderr, "batched write failed: %s\n",
                                    st.error().describe().c_str());
                       out.failed = true;
                     }
                     ++out.done;
                   }(kv, kvs, lane * max, inflight, b));
  }
  if (!testing::run_until(
          ioc, [&] { return b.done == inflight; }, 300s)) {
    std::fprintf(stderr, "batched writes did not finish within 300 s\n");
    std::exit(1);
  }
  if (b.failed) std::exit(1);
  return static_cast<double>(kvs.size()) / seconds_since(t0);
}

struct Latencies {
  std::map<std::string, Clock::time_point> sent;
  std::vector<double> ms;
};

Task<void> watch_latency(Watcher& w, Latencies& lat, std::size_t n) {
  while (lat.ms.size() < n) {
    auto b = co_await w.next();
    if (!b) co_return;
    auto now = Clock::now();
    for (const auto& e : b.value().events) {
      auto it = lat.sent.find(e.kv.key);
      if (it != lat.sent.end()) {
        lat.ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
      }
    }
  }
}

Task<Status> write_one_by_one(KvStore& kv, Latencies& lat, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    auto key = "/fleet/bench/latency/" + unit_name(static_cast<int>(i));
    lat.sent[key] = Clock::now();
    auto r = co_await kv.put(key, R"({"state":"active"})");
    if (!r) co_return r.error();
  }
  co_return ok();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  auto idx = static_cast<std::size_t>(std::lround(p * static_cast<double>(v.size() - 1)));
  return v.at(idx);
}

void report(const char* what, double value, const char* unit, const char* target, bool pass) {
  std::printf("%-52s %10.1f %-6s target %-10s %s\n", what, value, unit, target,
              pass ? "PASS" : "FAIL");
}

}  // namespace

int main(int argc, char** argv) {
  int units = argc > 1 ? std::atoi(argv[1]) : 10000;
  int machines = argc > 2 ? std::atoi(argv[2]) : 1000;
  std::size_t watch_writes = argc > 3 ? static_cast<std::size_t>(std::atoi(argv[3])) : 1000;

  testing::EtcdOptions opts;
  opts.label = "bench";
  testing::EtcdCluster etcd(opts);
  boost::asio::io_context ioc;
  EtcdConfig cfg;
  cfg.endpoints = etcd.endpoints();
  auto created = EtcdKv::create(ioc, cfg);
  if (!created) {
    std::fprintf(stderr, "%s\n", created.error().describe().c_str());
    return 1;
  }
  auto kv = std::move(created).value();
  std::printf("etcd %s, one member, EtcdKv over the JSON gateway, max_txn_ops %zu\n",
              etcd.endpoint(0).c_str(), kv->max_txn_ops());

  // 1. Schedule-like batched writes: /fleet/bench/schedule/<unit> = <machine id>.
  std::vector<std::pair<std::string, std::string>> schedule;
  for (int i = 0; i < units; ++i) {
    schedule.emplace_back("/fleet/bench/schedule/" + unit_name(i), machine_id(i % 97));
  }
  double seq = write_batched(ioc, *kv, schedule, 1);
  report("batched schedule writes, 1 txn in flight (keys/s)", seq, "keys/s", ">= 5000",
         seq >= 5000);
  double par = write_batched(ioc, *kv, schedule, 4);
  report("batched schedule writes, 4 txns in flight (keys/s)", par, "keys/s", ">= 5000",
         par >= 5000);

  // 2. Watch latency: write -> delivered event, one write at a time.
  {
    WatchRequest wr;
    wr.key = "/fleet/bench/latency/";
    wr.range_end = prefix_end(wr.key);
    RangeRequest now;
    now.key = wr.key;
    wr.start_revision = testing::run_sync(ioc, kv->range(now)).value().revision + 1;
    auto w = kv->watch(wr);
    Latencies lat;
    auto watched = testing::spawn(ioc, watch_latency(*w, lat, watch_writes));
    auto st = testing::run_sync(ioc, write_one_by_one(*kv, lat, watch_writes), 300s);
    if (!st) {
      std::fprintf(stderr, "latency writes failed: %s\n", st.error().describe().c_str());
      return 1;
    }
    if (!testing::run_until(
            ioc, [&] { return watched->done; }, 30s)) {
      std::fprintf(stderr, "not every latency write was watched within 30 s\n");
      return 1;
    }
    double p50 = percentile(lat.ms, 0.5), p99 = percentile(lat.ms, 0.99);
    report("watch latency write->event, median (ms)", p50, "ms", "< 10", p50 < 10);
    report("watch latency write->event, p99 (ms)", p99, "ms", "< 100", p99 < 100);
  }

  // 3. Full state read: unit-like and machine-like objects, as the engine's snapshot reads them.
  {
    std::vector<std::pair<std::string, std::string>> state;
    std::string unit_value(180, 'u');
    std::string machine_value(300, 'm');
    for (int i = 0; i < units; ++i) {
      state.emplace_back("/fleet/bench/state/unit/" + unit_name(i), unit_value);
    }
    for (int i = 0; i < machines; ++i) {
      state.emplace_back("/fleet/bench/state/machine/" + machine_id(i), machine_value);
    }
    write_batched(ioc, *kv, state, 4);
    RangeRequest all;
    all.key = "/fleet/bench/state/";
    all.range_end = prefix_end(all.key);
    auto t0 = Clock::now();
    auto r = testing::run_sync(ioc, kv->range(all), 60s);
    double took = seconds_since(t0);
    if (!r || r.value().kvs.size() != state.size()) {
      std::fprintf(stderr, "full read failed\n");
      return 1;
    }
    char what[96];
    std::snprintf(what, sizeof what, "full read of %d unit + %d machine keys (ms)", units,
                  machines);
    report(what, took * 1000, "ms", "< 1000", took < 1.0);

    // As the Registry reads a snapshot: one range per prefix, both in flight at once (etcd
    // marshals the JSON of each on its own core).
    RangeRequest u, m;
    u.key = "/fleet/bench/state/unit/";
    u.range_end = prefix_end(u.key);
    m.key = "/fleet/bench/state/machine/";
    m.range_end = prefix_end(m.key);
    t0 = Clock::now();
    auto ru = testing::spawn(ioc, kv->range(u));
    auto rm = testing::spawn(ioc, kv->range(m));
    bool read = testing::run_until(
        ioc, [&] { return ru->done && rm->done; }, 60s);
    took = seconds_since(t0);
    if (!read || !*ru->value || !*rm->value ||
        ru->value->value().kvs.size() + rm->value->value().kvs.size() != state.size()) {
      std::fprintf(stderr, "per-prefix read failed\n");
      return 1;
    }
    report("  the same, one range per prefix, concurrently (ms)", took * 1000, "ms", "< 1000",
           took < 1.0);
  }
  return 0;
}
