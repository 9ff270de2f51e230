// fleetd as systemd runs it, on one real-systemd host: the shipped fleet.socket starts fleetd
// on the first client and fleetd serves that socket although its api_listen names the same path;
// its journal entries carry priorities and fields; /healthz, /readyz and /metrics answer.

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>
#include <iterator>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string journal(Cluster& c, std::vector<std::string> args) {
  std::vector<std::string> argv{"journalctl", "--no-pager", "-o", "cat"};
  argv.insert(argv.end(), args.begin(), args.end());
  return c.host(0).run(argv).out;
}

}  // namespace

TEST_CASE("fleet.socket activates fleetd, whose journal entries have priorities and fields") {
  ClusterOptions o;
  o.hosts = 1;
  o.label = "observe";
  Cluster c(o);
  Host& h = c.host(0);

  // Probes and metrics of a running fleetd, over the same TCP listener fleetctl uses.
  auto health = http_request(c.api_url(0), "GET", "/healthz");
  CHECK(health.status == 200);
  REQUIRE(wait_until([&] { return http_request(c.api_url(0), "GET", "/readyz").status == 200; },
                     kSettle, 200ms));
  auto ready = http_request(c.api_url(0), "GET", "/readyz");
  CHECK(contains(ready.body, "[+]agent ok"));
  // The engine's pass histogram appears with its first pass, which readiness does not wait for.
  std::string scraped;
  CHECK(wait_until(
      [&] {
        scraped = http_request(c.api_url(0), "GET", "/metrics").body;
        return contains(scraped, "\nfleet_engine_reconcile_duration_seconds_count ");
      },
      kSettle, 100ms));
  auto metrics = http_request(c.api_url(0), "GET", "/metrics");
  CHECK(contains(metrics.body, "\nfleet_machines 1\n"));
  CHECK(contains(metrics.body, "\nfleet_build_info{version="));
  CHECK(contains(metrics.body, "\nfleet_registry_requests_total{op=\"range\",result=\"ok\"} "));
  CHECK(contains(metrics.body, "\nfleet_engine_reconcile_duration_seconds_count "));

  // A deprecated key makes fleetd log a warning at start: the entry must be a warning.
  REQUIRE(h.write_file("/run/systemd/system/fleetd.service.d/deprecated.conf",
                       "[Service]\nEnvironment=FLEET_VERIFY_UNITS=true\n"));
  // Stop fleetd, install the shipped socket unit and let the first client start fleetd.
  REQUIRE(h.run({"systemctl", "stop", "fleetd.service"}).exit == 0);
  REQUIRE(h.install_unit("fleet.socket", read_file(FLEET_SOURCE_DIR "/fleetd/fleet.socket")));
  auto started = h.run({"systemctl", "start", "fleet.socket"});
  REQUIRE_MESSAGE(started.exit == 0, started.err);
  CHECK(h.run({"systemctl", "is-active", "fleetd.service"}).out != "active\n");
  // fleetctl's default endpoint is unix:///var/run/fleet.sock, the socket's ListenStream.
  auto first = h.run({FLEET_FLEETCTL_PATH, "list-machines", "--no-legend"}, 30s);
  CHECK_MESSAGE(first.exit == 0, first.err);
  CHECK(contains(first.out, c.machine_id(0).substr(0, 8)));
  CHECK(h.run({"systemctl", "is-active", "fleetd.service"}).out == "active\n");
  // fleetd adopted the socket rather than failing on its own api_listen of the same path, and
  // still serves its TCP address.
  CHECK(h.run({"systemctl", "show", "-p", "NRestarts", "--value", "fleetd.service"}).out == "0\n");
  CHECK(http_request(c.api_url(0), "GET", "/healthz").status == 200);

  // Journal entries: priorities filter, fields match.
  REQUIRE(wait_until(
      [&] {
        return contains(journal(c, {"-u", "fleetd"}), "verify_units");
      },
      kSettle, 200ms));
  const std::string warnings = journal(c, {"-u", "fleetd", "-p", "warning"});
  CHECK(contains(warnings, "verify_units"));
  CHECK_FALSE(contains(warnings, "fleetd: starting"));
  CHECK(contains(journal(c, {"-u", "fleetd", "-p", "info"}), "fleetd: starting"));
  const std::string by_machine =
      journal(c, {"SYSLOG_IDENTIFIER=fleetd", "MACHINE=" + c.machine_id(0)});
  CHECK_FALSE(by_machine.empty());
  CHECK(contains(journal(c, {"FLEET_COMPONENT=fleetd"}), "fleetd: starting"));
}

TEST_CASE("events tell where a unit ran and why it moved when its host died") {
  ClusterOptions o;
  o.hosts = 2;
  o.label = "events";
  Cluster c(o);
  auto dir = c.work_dir();
  c.write_unit("moving.service", lasting_unit());
  REQUIRE(c.fleetctl(0, {"start", "--no-block", dir + "/moving.service"}).exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"moving.service"}); }, kSettle, 200ms));
  const int first = running_on(list_units(c), "moving.service");
  REQUIRE(first >= 0);
  const int other = 1 - first;
  // A follow opened before the host dies sees what happens, as it happens.
  REQUIRE(c.host(static_cast<std::size_t>(other))
              .start_transient("events-follow", {FLEET_FLEETCTL_PATH, "events", "-f", "--full",
                                                 "--lines=0", "moving.service"}));
  c.halt(static_cast<std::size_t>(first));
  REQUIRE(wait_until([&] { return running_on(list_units(c, other), "moving.service") == other; },
                     kSettle, 200ms));
  const std::string old_id = c.machine_id(static_cast<std::size_t>(first));
  const std::string new_id = c.machine_id(static_cast<std::size_t>(other));
  std::string seen;
  REQUIRE(wait_until(
      [&] {
        seen =
            c.fleetctl(static_cast<std::size_t>(other), {"events", "--full", "moving.service"}).out;
        return contains(seen, "started") && contains(seen, new_id + " systemd: active");
      },
      kSettle, 200ms));
  INFO("events:\n" << seen);
  // In order: submitted, desired, scheduled on the old host, started there, unscheduled when
  // that machine went away, scheduled on the new one, started there.
  const auto at = [&](const std::string& s) { return seen.find(s); };
  const auto sched_old = at("scheduled     moving.service           " + old_id);
  const auto lost = at("unscheduled   moving.service           " + old_id);
  const auto sched_new = at("scheduled     moving.service           " + new_id);
  const auto started_new = at("started       moving.service           " + new_id);
  REQUIRE(sched_old != std::string::npos);
  REQUIRE(lost != std::string::npos);
  REQUIRE(sched_new != std::string::npos);
  REQUIRE(started_new != std::string::npos);
  CHECK(sched_old < lost);
  CHECK(lost < sched_new);
  CHECK(sched_new < started_new);
  CHECK(contains(seen.substr(lost), "went away"));
  // The stream opened before the halt printed the same move.
  REQUIRE(wait_until(
      [&] {
        auto j = c.host(static_cast<std::size_t>(other))
                     .run({"journalctl", "-u", "events-follow", "--no-pager", "-o", "cat"});
        return contains(j.out, "unscheduled   moving.service           " + old_id) &&
               contains(j.out, "started       moving.service           " + new_id);
      },
      kSettle, 200ms));
}
