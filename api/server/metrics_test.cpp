#include "api/server/metrics.h"

#include <doctest/doctest.h>

using fleet::api::server::Metrics;

TEST_CASE("metrics render in Prometheus text format, sorted") {
  Metrics m;
  m.describe("fleet_engine_reconcile_count_total", Metrics::Type::counter, "Reconciles run.");
  m.add("fleet_engine_reconcile_count_total");
  m.add("fleet_engine_reconcile_count_total", 2);
  m.set("fleet_engine_leader", 1);
  m.add("fleet_engine_task_count_total", 1, {{"type", "attemptscheduleunit"}});
  m.add("fleet_engine_task_count_total", 4, {{"type", "unscheduleunit"}});
  m.observe("fleet_registry_latency_seconds", 0.5, {{"op", "txn"}});
  m.observe("fleet_registry_latency_seconds", 0.25, {{"op", "txn"}});
  CHECK(m.render() ==
        "# TYPE fleet_engine_leader gauge\n"
        "fleet_engine_leader 1\n"
        "# HELP fleet_engine_reconcile_count_total Reconciles run.\n"
        "# TYPE fleet_engine_reconcile_count_total counter\n"
        "fleet_engine_reconcile_count_total 3\n"
        "# TYPE fleet_engine_task_count_total counter\n"
        "fleet_engine_task_count_total{type=\"attemptscheduleunit\"} 1\n"
        "fleet_engine_task_count_total{type=\"unscheduleunit\"} 4\n"
        "# TYPE fleet_registry_latency_seconds summary\n"
        "fleet_registry_latency_seconds_sum{op=\"txn\"} 0.75\n"
        "fleet_registry_latency_seconds_count{op=\"txn\"} 2\n"
        "# TYPE fleet_registry_latency_seconds_max gauge\n"
        "fleet_registry_latency_seconds_max{op=\"txn\"} 0.5\n");
  CHECK(m.value("fleet_registry_latency_seconds", {{"op", "txn"}}) == 2);
  CHECK(m.sum("fleet_registry_latency_seconds", {{"op", "txn"}}) == 0.75);
}

TEST_CASE("a metric keeps the type of its first use") {
  Metrics m;
  m.set("x", 5);
  m.add("x", 1);  // ignored: x is a gauge
  CHECK(m.value("x") == 5);
  m.set("x", 2);
  CHECK(m.value("x") == 2);
}

TEST_CASE("label values are escaped, cleared gauges disappear") {
  Metrics m;
  m.set("g", 1, {{"path", "a\"b\\c\nd"}});
  CHECK(m.render() == "# TYPE g gauge\ng{path=\"a\\\"b\\\\c\\nd\"} 1\n");
  m.clear("g");
  CHECK(m.render().empty());
}
