// Unit commands and daemon lifecycle on one real-systemd host (issue #7): one-way conflicts,
// restart, --replace, listing order, [Install] dependencies, FLEETCTL_ENDPOINT, SIGHUP, etcd
// outage, clean shutdown.

#include <doctest/doctest.h>

#include <chrono>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

namespace {

std::size_t active_count(Cluster& c) {
  std::size_t n = 0;
  for (const auto& r : list_units(c)) n += r.active == "active";
  return n;
}

std::string main_pid(Cluster& c, const std::string& unit) {
  return c.host(0).run({"systemctl", "show", "-p", "MainPID", "--value", unit}).out;
}

}  // namespace

TEST_CASE("unit commands on one host: conflicts, restart, replace, order, install, reload") {
  auto t_all = std::chrono::steady_clock::now();
  ClusterOptions o;
  o.hosts = 1;
  o.label = "units";
  Cluster c(o);
  auto dir = c.work_dir();

  // --- FLEETCTL_ENDPOINT instead of --endpoint (TestFleetctlWithEnv).
  auto env = c.host(0).run({FLEET_FLEETCTL_PATH, "list-machines", "--no-legend", "--full"}, 10s,
                           {"FLEETCTL_ENDPOINT=" + c.api_url(0)});
  CHECK_MESSAGE(env.exit == 0, env.err);
  CHECK(contains(env.out, c.machine_id(0)));

  // --- A one-way conflict keeps hello off the only host until its opponent is destroyed.
  c.write_unit("hello.service", lasting_unit());
  c.write_unit("conflicts-with-hello.service", lasting_unit("Conflicts=hello.service\n"));
  REQUIRE(c.fleetctl(0, {"start", dir + "/conflicts-with-hello.service"}).exit == 0);
  REQUIRE(
      wait_until([&] { return all_running(c, {"conflicts-with-hello.service"}); }, kSettle, 200ms));
  // Blocking, the start gives up with the engine's reason instead of waiting forever.
  auto blocked = c.fleetctl(0, {"start", dir + "/hello.service"});
  CHECK(blocked.exit == 1);
  CHECK(contains(blocked.err, "hello.service cannot be scheduled"));
  CHECK(rows(c.fleetctl(0, {"list-unit-files", "--no-legend"}).out).size() == 2);
  CHECK(rows_of(list_units(c), "hello.service").empty());
  REQUIRE(c.fleetctl(0, {"destroy", "conflicts-with-hello.service"}).exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"hello.service"}) && active_count(c) == 1; },
                     kSettle, 200ms));

  // --- [Install] WantedBy: systemd pulls discovery in with hello (TestInstallUnit).
  REQUIRE(c.fleetctl(0, {"stop", "hello.service"}).exit == 0);
  c.write_unit("discovery.service",
               "[Unit]\nDescription=discovery\nBindsTo=hello.service\n\n[Service]\n"
               "ExecStart=/bin/sh -c \"echo discovery; exec tail -f /dev/null\"\n\n"
               "[Install]\nWantedBy=hello.service\n\n[X-Fleet]\nMachineOf=hello.service\n");
  auto load = c.fleetctl(0, {"load", dir + "/discovery.service"});
  REQUIRE_MESSAGE(load.exit == 0, load.err);
  REQUIRE(wait_until(
      [&] {
        return c.host(0).unit_state("discovery.service") == "inactive" &&
               !rows_of(list_units(c), "discovery.service").empty();
      },
      kSettle, 200ms));
  auto dstatus = c.fleetctl(0, {"status", "discovery.service"});  // TestUnitStatus
  CHECK(contains(dstatus.out, "Loaded: loaded"));
  REQUIRE(c.fleetctl(0, {"start", "hello.service"}).exit == 0);
  CHECK(wait_until([&] { return c.host(0).unit_state("discovery.service") == "active"; }, kSettle,
                   200ms));
  REQUIRE(c.fleetctl(0, {"stop", "hello.service"}).exit == 0);
  CHECK(wait_until([&] { return c.host(0).unit_state("discovery.service") == "inactive"; }, kSettle,
                   200ms));
  REQUIRE(fleetctl_sh(c, 0, "fleetctl destroy hello.service discovery.service").exit == 0);

  // --- restart: from running (new MainPID) and from loaded (TestUnitRestart).
  c.write_unit("hello@.service", lasting_unit());
  std::vector<std::string> hellos{"hello@1.service", "hello@2.service", "hello@3.service"};
  auto st = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl start hello@{1..3}.service");
  REQUIRE_MESSAGE(st.exit == 0, st.err);
  REQUIRE(wait_until([&] { return all_running(c, hellos); }, kSettle, 200ms));
  std::string pid_before = main_pid(c, "hello@2.service");
  auto rs = fleetctl_sh(c, 0, "fleetctl restart hello@{1..3}.service");
  CHECK_MESSAGE(rs.exit == 0, rs.err);
  REQUIRE(wait_until([&] { return all_running(c, hellos); }, kSettle, 200ms));
  CHECK(main_pid(c, "hello@2.service") != pid_before);
  REQUIRE(fleetctl_sh(c, 0, "fleetctl stop hello@{1..3}.service").exit == 0);
  REQUIRE(wait_until([&] { return active_count(c) == 0; }, kSettle, 200ms));
  rs = fleetctl_sh(c, 0, "fleetctl restart hello@{1..3}.service");
  CHECK_MESSAGE(rs.exit == 0, rs.err);
  REQUIRE(wait_until([&] { return all_running(c, hellos); }, kSettle, 200ms));

  // --- --replace: a changed file replaces the running unit's content (TestUnitStartReplace).
  auto cat_before = c.fleetctl(0, {"cat", "hello@1.service"}).out;
  std::string changed = lasting_unit();
  changed.replace(changed.find("Hello, World!"), 13, "Hello, again!");
  c.write_unit("hello@1.service", changed);
  auto no_replace = c.fleetctl(0, {"start", dir + "/hello@1.service"});
  CHECK(contains(no_replace.err, "differs from local unit file"));
  auto replace = c.fleetctl(0, {"start", "--replace", dir + "/hello@1.service"});
  CHECK_MESSAGE(replace.exit == 0, replace.err);
  auto cat_after = c.fleetctl(0, {"cat", "hello@1.service"}).out;
  CHECK(cat_after != cat_before);
  CHECK(contains(cat_after, "Hello, again!"));
  REQUIRE(wait_until(
      [&] {
        auto sh = c.host(0).run({"systemctl", "cat", "hello@1.service"});
        return contains(sh.out, "Hello, again!") && all_running(c, hellos);
      },
      kSettle, 200ms));
  // Instances made from a local template leave the template itself out of the registry.
  CHECK(rows(c.fleetctl(0, {"list-unit-files", "--no-legend"}).out).size() == 3);

  // --- A unit slow to stop holds up no other unit on its host: while its unload waits for
  // the stop job (ExecStop takes 60 s), a unit started meanwhile runs.
  c.write_unit("slow-stop.service",
               "[Service]\nExecStart=/bin/sleep infinity\n"
               "ExecStop=/bin/sleep 60\n");
  c.write_unit("meanwhile.service", lasting_unit());
  REQUIRE(c.fleetctl(0, {"start", dir + "/slow-stop.service"}).exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"slow-stop.service"}); }, kSettle, 200ms));
  REQUIRE(c.fleetctl(0, {"destroy", "slow-stop.service"}).exit == 0);
  REQUIRE(wait_until([&] { return c.host(0).unit_state("slow-stop.service") == "deactivating"; },
                     kSettle, 100ms));
  auto meanwhile = c.fleetctl(0, {"start", dir + "/meanwhile.service"});
  CHECK_MESSAGE(meanwhile.exit == 0, meanwhile.err);
  CHECK(wait_until([&] { return c.host(0).unit_state("meanwhile.service") == "active"; }, 20s,
                   100ms));
  CHECK(c.host(0).unit_state("slow-stop.service") == "deactivating");
  REQUIRE(c.fleetctl(0, {"destroy", "meanwhile.service"}).exit == 0);
  c.host(0).run({"systemctl", "kill", "--kill-who=all", "slow-stop.service"});

  // --- SIGHUP reloads the configuration and fleetd keeps serving (TestReconfigureServer).
  REQUIRE(c.host(0).run({"systemctl", "kill", "-s", "SIGHUP", "fleetd"}).exit == 0);
  CHECK(wait_until(
      [&] {
        auto j = c.host(0).run({"journalctl", "-u", "fleetd", "--no-pager"});
        return contains(j.out, "Reloading configuration");
      },
      kSettle, 200ms));
  CHECK(c.fleetctl(0, {"list-units"}).exit == 0);
  CHECK(c.host(0).unit_state("fleetd.service") == "active");
  CHECK(all_running(c, hellos));

  // --- list-unit-files is sorted whatever the submission order (TestListUnitFilesOrder).
  REQUIRE(fleetctl_sh(c, 0, "fleetctl destroy hello@{1..3}.service").exit == 0);
  auto sub = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl submit hello@{20..01}.service");
  REQUIRE_MESSAGE(sub.exit == 0, sub.err);
  auto names = c.fleetctl(0, {"list-unit-files", "--no-legend", "--fields", "unit"});
  std::string expected;
  for (int i = 1; i <= 20; ++i)
    expected += std::string("hello@") + (i < 10 ? "0" : "") + std::to_string(i) + ".service\n";
  CHECK(names.out == expected);

  // --- fleetd stops cleanly (TestShutdown).
  REQUIRE(c.host(0).run({"systemctl", "stop", "fleetd"}).exit == 0);
  CHECK(c.host(0).unit_state("fleetd.service") == "inactive");
  auto result = c.host(0).run({"systemctl", "show", "-p", "Result", "--value", "fleetd"});
  CHECK(result.out == "success\n");
  MESSAGE("unit commands test took " << since(t_all) << " s");
}

TEST_CASE("an etcd outage longer than the agent TTL stops nothing on the host") {
  auto t_all = std::chrono::steady_clock::now();
  ClusterOptions o;
  o.hosts = 1;
  o.label = "outage";
  Cluster c(o);
  auto dir = c.work_dir();
  c.write_unit("single@.service", lasting_unit());
  c.write_unit("global@.service", lasting_unit("Global=true\n"));
  auto sub = fleetctl_sh(
      c, 0,
      "cd " + dir +
          " && fleetctl submit single@inactive.service global@inactive.service"
          " && fleetctl load --no-block single@loaded.service global@loaded.service"
          " && fleetctl start --no-block single@launched.service global@launched.service");
  REQUIRE_MESSAGE(sub.exit == 0, sub.err);
  auto fleet_states = [&] {
    auto r = c.fleetctl(0, {"list-unit-files", "--no-legend", "--fields", "unit,dstate"});
    return r.out;
  };
  auto expect_ok = [&] {
    auto all = list_units(c);
    return running_on(all, "single@launched.service") == 0 &&
           running_hosts(all, "global@launched.service").size() == 1 &&
           rows_of(all, "single@loaded.service").size() == 1 &&
           rows_of(all, "single@loaded.service")[0].active == "inactive" &&
           rows_of(all, "global@loaded.service").size() == 1 &&
           rows_of(all, "single@inactive.service").empty();
  };
  REQUIRE(wait_until(expect_ok, kSettle, 200ms));
  std::string files_before = fleet_states();
  std::string pid = main_pid(c, "single@launched.service");

  auto t_kill = std::chrono::steady_clock::now();
  c.etcd().kill(0);
  // Outage of agent TTL + 3 s, waited on a condition that cannot come true before the deadline
  // passes (fleetctl keeps failing while etcd is down).
  CHECK_FALSE(wait_until([&] { return c.fleetctl(0, {"list-units"}, 5s).exit == 0; },
                         std::chrono::seconds(o.agent_ttl_s + 3), 500ms));
  for (const char* u : {"single@launched.service", "global@launched.service"})
    CHECK_MESSAGE(c.host(0).unit_state(u) == "active", u);
  auto enabled = c.host(0).run({"systemctl", "is-enabled", "single@loaded.service"});
  CHECK(enabled.out == "linked-runtime\n");
  c.etcd().restart(0);
  MESSAGE("etcd down for " << since(t_kill) << " s");

  REQUIRE(wait_until(expect_ok, std::chrono::seconds(o.agent_ttl_s + 20), 200ms));
  CHECK(fleet_states() == files_before);
  CHECK(main_pid(c, "single@launched.service") == pid);
  auto journal = c.host(0).run({"journalctl", "--no-pager", "_PID=1"});
  CHECK_FALSE(contains(journal.out, "Stopping single@"));
  CHECK_FALSE(contains(journal.out, "Stopping global@"));
  MESSAGE("etcd outage test took " << since(t_all) << " s");
}
