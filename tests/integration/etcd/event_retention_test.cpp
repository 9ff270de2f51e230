// The event history on real etcd stays within its bound under churn: a unit started and
// stopped 10,000 times, its events trimmed as the engine leader trims them.

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "common/testing/run.h"
#include "registry/event_log.h"
#include "tests/integration/etcd/etcd_fixture.h"

using namespace fleet::registry;
using fleet::testing::run_sync;

TEST_CASE("a unit churned 10,000 times keeps the event space within its bound") {
  fleet::testing::EtcdOptions o;
  o.label = "events";
  fleet::testing::EtcdCluster etcd(o);
  boost::asio::io_context io;
  auto kv = fleet::testing::make_etcd_kv(io, etcd.endpoints());
  EventLog log(*kv, "/fleet/");
  EventRetention keep;
  keep.max_count = 1000;
  constexpr int kChurn = 10000;
  constexpr int kBatch = 100;  // the events of one agent publication or engine pass
  for (int i = 0; i < kChurn; i += kBatch) {
    std::vector<EventRecord> batch;
    for (int k = i; k < i + kBatch; ++k) {
      EventRecord e;
      e.kind = k % 2 ? "stopped" : "started";
      e.unit = "churn.service";
      e.machine = "m1";
      e.reason = "round " + std::to_string(k);
      batch.push_back(std::move(e));
    }
    REQUIRE(run_sync(io, log.append(std::move(batch))));
    // The leader trims periodically; here after every tenth batch.
    if ((i / kBatch) % 10 == 9)
      REQUIRE(run_sync(io, log.trim(keep, std::chrono::system_clock::now())));
  }
  // What is kept is the newest history, in order, within the bound.
  auto listed = run_sync(io, log.list({}));
  REQUIRE(listed);
  REQUIRE_FALSE(listed.value().events.empty());
  CHECK(listed.value().events.size() <= keep.max_count);
  CHECK(listed.value().events.size() > keep.max_count / 2);
  CHECK(listed.value().events.back().reason == "round 9999");
  CHECK(listed.value().events.front().reason ==
        "round " + std::to_string(kChurn - listed.value().events.size()));
}
