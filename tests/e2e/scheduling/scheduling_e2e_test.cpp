// Placement as a user meets it (issue #7): templates,
// Conflicts, MachineMetadata, MachineOf, MachineID, Replaces, global units and invalid units, on
// three real-systemd hosts. One cluster serves every check: booting one is the expensive part.

#include <doctest/doctest.h>

#include <chrono>
#include <set>

#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;

TEST_CASE("placement on three hosts: templates, conflicts, metadata, peers, pins, replaces") {
  auto t_all = std::chrono::steady_clock::now();
  ClusterOptions o;
  o.label = "sched";
  o.metadata = {{{"role", "web"}, {"name", "h1"}},
                {{"role", "web"}, {"name", "h2"}},
                {{"role", "db"}, {"name", "h3"}}};
  Cluster c(o);
  MESSAGE("cluster up after " << since(t_all) << " s");
  auto dir = c.work_dir();

  // --- example@.service: four instances from the shell's brace expansion, spread over hosts.
  c.write_unit("example@.service", lasting_unit());
  auto submit = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl submit example@.service");
  REQUIRE_MESSAGE(submit.exit == 0, submit.err);
  auto start = fleetctl_sh(c, 1, "fleetctl start example@{1..4}.service");
  REQUIRE_MESSAGE(start.exit == 0, start.err);
  for (int i = 1; i <= 4; ++i)
    CHECK(contains(start.out, "Unit example@" + std::to_string(i) + ".service launched on"));
  std::vector<std::string> examples;
  for (int i = 1; i <= 4; ++i) examples.push_back("example@" + std::to_string(i) + ".service");
  REQUIRE(wait_until([&] { return all_running(c, examples); }, kSettle, 200ms));
  {
    auto all = list_units(c);
    std::map<int, int> per_host;
    for (const auto& u : examples) ++per_host[running_on(all, u)];
    CHECK(per_host.size() == 3);  // every host got at least one
    // The instance runs under its own name in the host's systemd.
    int h = running_on(all, "example@3.service");
    REQUIRE(h >= 0);
    CHECK(c.host(static_cast<std::size_t>(h)).unit_state("example@3.service") == "active");
  }

  // --- destroy of running units stops them on their hosts.
  {
    auto all = list_units(c);
    std::vector<int> where;
    for (const auto& u : examples) where.push_back(running_on(all, u));
    auto destroy = fleetctl_sh(c, 2, "fleetctl destroy example@{1..4}.service");
    REQUIRE_MESSAGE(destroy.exit == 0, destroy.err);
    CHECK(contains(destroy.out, "Destroyed example@4.service"));
    REQUIRE(wait_until(
        [&] {
          for (std::size_t i = 0; i < examples.size(); ++i)
            if (c.host(static_cast<std::size_t>(where[i])).unit_state(examples[i]) == "active")
              return false;
          return true;
        },
        kSettle, 200ms));
    CHECK(rows_of(list_units(c), "example@1.service").empty());
    CHECK(unit_file_row(c, "example@2.service").empty());
    CHECK(!unit_file_row(c, "example@.service").empty());  // the template stays submitted
  }

  // --- Conflicts: apache.1 and .2 apart, .3 on the third host, .4 cannot be placed.
  for (int i = 1; i <= 4; ++i)
    c.write_unit("apache." + std::to_string(i) + ".service",
                 lasting_unit("Conflicts=apache.*.service\n"));
  auto two =
      fleetctl_sh(c, 0, "cd " + dir + " && fleetctl start apache.1.service apache.2.service");
  REQUIRE_MESSAGE(two.exit == 0, two.err);
  REQUIRE(wait_until(
      [&] {
        return all_running(c, {"apache.1.service", "apache.2.service"});
      },
      kSettle, 200ms));
  int a1 = running_on(list_units(c), "apache.1.service");
  int a2 = running_on(list_units(c), "apache.2.service");
  CHECK(a1 != a2);
  auto third = fleetctl_sh(c, 1, "cd " + dir + " && fleetctl start apache.3.service");
  REQUIRE_MESSAGE(third.exit == 0, third.err);
  REQUIRE(wait_until([&] { return all_running(c, {"apache.3.service"}); }, kSettle, 200ms));
  int a3 = running_on(list_units(c), "apache.3.service");
  CHECK(std::set<int>{a1, a2, a3}.size() == 3);

  // A blocking start gives up after one attempt (2 s) with the engine's reason, not forever.
  auto t_b = std::chrono::steady_clock::now();
  auto blocked = fleetctl_sh(c, 2, "cd " + dir + " && fleetctl start apache.4.service", 60s);
  MESSAGE("start apache.4 (blocking): " << since(t_b) << " s, exit " << blocked.exit
                                        << ", err: " << blocked.err);
  CHECK(blocked.exit == 1);  // not 124, the harness's timeout: fleetctl gave up by itself
  CHECK(since(t_b) < 15);
  CHECK(contains(blocked.err, "apache.4.service cannot be scheduled"));
  CHECK(contains(blocked.err, "conflict"));
  // --no-block returns at once, whatever the engine makes of the unit.
  c.write_unit("apache.5.service", lasting_unit("Conflicts=apache.*.service\n"));
  auto t_nb = std::chrono::steady_clock::now();
  auto nb = fleetctl_sh(c, 2, "cd " + dir + " && fleetctl start --no-block apache.5.service");
  MESSAGE("start --no-block apache.5: " << since(t_nb) << " s, exit " << nb.exit
                                        << ", out: " << nb.out << " err: " << nb.err);
  CHECK(nb.exit == 0);
  CHECK(contains(nb.out, "Triggered unit apache.5.service start"));
  CHECK(since(t_nb) < 5);
  // Starting a unit that is already launched changes nothing and does not wait (as in fleet).
  CHECK(c.fleetctl(0, {"start", "apache.4.service"}, 10s).exit == 0);
  auto a4_file = unit_file_row(c, "apache.4.service");
  REQUIRE(a4_file.size() == 4);
  CHECK(a4_file[1] == "launched");
  CHECK(a4_file[2] == "inactive");
  CHECK(a4_file[3] == "-");
  CHECK(rows_of(list_units(c), "apache.4.service").empty());
  // JSON output of list-unit-files carries the reason for scripts.
  auto json = c.fleetctl(0, {"list-unit-files", "--format", "json"});
  CHECK(contains(json.out, "\"reason\""));

  // Once apache.1 is destroyed (and stopped on its host), apache.4 takes its place.
  REQUIRE(fleetctl_sh(c, 1, "fleetctl destroy apache.{5,1}.service").exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"apache.4.service"}); }, kSettle, 200ms));
  CHECK(running_on(list_units(c), "apache.4.service") == a1);
  CHECK(c.host(static_cast<std::size_t>(a1)).unit_state("apache.1.service") != "active");

  // --- MachineMetadata=role=web: only h1 and h2, although h3 is now the least loaded.
  std::vector<std::string> webs;
  for (int i = 1; i <= 3; ++i) {
    std::string name = "web." + std::to_string(i) + ".service";
    c.write_unit(name, lasting_unit("MachineMetadata=role=web\n"));
    webs.push_back(name);
  }
  auto web = fleetctl_sh(c, 0, "cd " + dir + " && fleetctl start web.{1..3}.service");
  REQUIRE_MESSAGE(web.exit == 0, web.err);
  REQUIRE(wait_until([&] { return all_running(c, webs); }, kSettle, 200ms));
  {
    auto all = list_units(c);
    for (const auto& w : webs) CHECK_MESSAGE(running_on(all, w) != 2, w << " on the db host");
  }

  // --- Metadata added at run time through the API (PATCH /machines) steers placement too.
  auto patch = http_request(c.api_url(0), "PATCH", "/fleet/v1/machines",
                            R"([{"op":"add","path":"/)" + c.machine_id(2) +
                                R"(/metadata/disk","value":{"value":"ssd"}}])");
  CHECK(patch.status == 204);
  CHECK(wait_until(
      [&] {
        auto m = c.fleetctl(
            1, {"list-machines", "--no-legend", "--full", "--fields", "machine,metadata"});
        return contains(m.out, c.machine_id(2)) && contains(m.out, "disk=ssd");
      },
      kSettle, 200ms));
  c.write_unit("fast.service", lasting_unit("MachineMetadata=disk=ssd\n"));
  REQUIRE(c.fleetctl(1, {"start", dir + "/fast.service"}).exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"fast.service"}); }, kSettle, 200ms));
  CHECK(running_on(list_units(c), "fast.service") == 2);

  // --- Specifiers in metadata (fleet's TestTemplatesWithSpecifiersInMetadata).
  c.write_unit("metadata@.service", lasting_unit("MachineMetadata=name=%i\n"));
  auto md = fleetctl_sh(c, 2, "cd " + dir + " && fleetctl start metadata@{h3,h2,h1}.service");
  REQUIRE_MESSAGE(md.exit == 0, md.err);
  REQUIRE(wait_until(
      [&] {
        return all_running(c,
                           {"metadata@h1.service", "metadata@h2.service", "metadata@h3.service"});
      },
      kSettle, 200ms));
  {
    auto all = list_units(c);
    CHECK(running_on(all, "metadata@h1.service") == 0);
    CHECK(running_on(all, "metadata@h2.service") == 1);
    CHECK(running_on(all, "metadata@h3.service") == 2);
  }
  auto nowhere = fleetctl_sh(
      c, 0, "cd " + dir + " && fleetctl start --block-attempts=20 metadata@nope.service");
  CHECK(nowhere.exit != 0);
  CHECK(contains(nowhere.err, "metadata@nope.service cannot be scheduled"));

  // --- MachineID, full and short (8-character) forms.
  c.write_unit("pin@.service", lasting_unit("MachineID=%i\n"));
  std::string id1 = c.machine_id(1), id2 = c.machine_id(2);
  auto pins = fleetctl_sh(c, 0,
                          "cd " + dir + " && fleetctl start pin@" + id2 + ".service pin@" +
                              id1.substr(0, 8) + ".service");
  REQUIRE_MESSAGE(pins.exit == 0, pins.err);
  REQUIRE(wait_until(
      [&] {
        return all_running(c, {"pin@" + id2 + ".service", "pin@" + id1.substr(0, 8) + ".service"});
      },
      kSettle, 200ms));
  {
    auto all = list_units(c);
    CHECK(running_on(all, "pin@" + id2 + ".service") == 2);
    CHECK(running_on(all, "pin@" + id1.substr(0, 8) + ".service") == 1);
  }

  // --- MachineOf: each pong next to its ping.
  for (int i = 0; i < 3; ++i) {
    std::string n = std::to_string(i);
    c.write_unit("ping." + n + ".service", lasting_unit());
    c.write_unit("pong." + n + ".service", lasting_unit("MachineOf=ping." + n + ".service\n"));
  }
  auto pp = fleetctl_sh(
      c, 1, "cd " + dir + " && fleetctl start --no-block ping.{0..2}.service pong.{0..2}.service");
  REQUIRE_MESSAGE(pp.exit == 0, pp.err);
  REQUIRE(wait_until(
      [&] {
        return all_running(c, {"ping.0.service", "ping.1.service", "ping.2.service",
                               "pong.0.service", "pong.1.service", "pong.2.service"});
      },
      kSettle, 200ms));
  {
    auto all = list_units(c);
    for (int i = 0; i < 3; ++i) {
      std::string n = std::to_string(i);
      CHECK(running_on(all, "pong." + n + ".service") == running_on(all, "ping." + n + ".service"));
    }
  }

  // --- Replaces: kick lands on replace.0's machine (pinned there by metadata) and moves it away.
  c.write_unit("replace.0.service", lasting_unit("MachineMetadata=role=web\n"));
  REQUIRE(c.fleetctl(0, {"start", dir + "/replace.0.service"}).exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"replace.0.service"}); }, kSettle, 200ms));
  int r0 = running_on(list_units(c), "replace.0.service");
  REQUIRE(r0 >= 0);
  c.write_unit("replace-kick0.service",
               lasting_unit("Replaces=replace.0.service\nMachineMetadata=name=h" +
                            std::to_string(r0 + 1) + "\n"));
  REQUIRE(c.fleetctl(2, {"start", dir + "/replace-kick0.service"}).exit == 0);
  std::string seen;  // shown if the wait fails (once in ~12 full runs, not reproduced alone)
  INFO("last list-units: " << seen);
  REQUIRE(wait_until(
      [&] {
        auto all = list_units(c);
        seen.clear();
        for (const auto& u : all)
          seen += u.unit + "@" + std::to_string(u.host) + " " + u.active + "/" + u.sub + "; ";
        int moved = running_on(all, "replace.0.service");
        return running_on(all, "replace-kick0.service") == r0 && moved >= 0 && moved != r0;
      },
      kSettle, 200ms));
  CHECK(running_on(list_units(c), "replace.0.service") != 2);  // still honours role=web

  // --- Global units: one copy per machine; a conflicting global unit runs nowhere.
  c.write_unit("global.service", lasting_unit("Global=true\n"));
  auto g = c.fleetctl(0, {"start", dir + "/global.service"});
  REQUIRE_MESSAGE(g.exit == 0, g.err);
  CHECK(contains(g.out, "Triggered global unit global.service start"));
  REQUIRE(wait_until([&] { return running_hosts(list_units(c), "global.service").size() == 3; },
                     kSettle, 200ms));
  auto gs = c.fleetctl(1, {"status", "global.service"});
  CHECK_MESSAGE(gs.exit == 0, gs.err);
  std::size_t shown = 0;  // one systemctl status per machine
  for (auto p = gs.out.find("active (running)"); p != std::string::npos;
       p = gs.out.find("active (running)", p + 1))
    ++shown;
  CHECK(shown == 3);
  auto restart = c.fleetctl(2, {"restart", "global.service"});
  CHECK_MESSAGE(restart.exit == 0, restart.err);
  REQUIRE(wait_until([&] { return running_hosts(list_units(c), "global.service").size() == 3; },
                     kSettle, 200ms));

  for (int i = 0; i < 2; ++i)
    c.write_unit("conflict-global." + std::to_string(i) + ".service",
                 lasting_unit("Global=true\nConflicts=conflict-global.*.service\n"));
  REQUIRE(c.fleetctl(0, {"start", dir + "/conflict-global.0.service"}).exit == 0);
  REQUIRE(wait_until(
      [&] { return running_hosts(list_units(c), "conflict-global.0.service").size() == 3; },
      kSettle, 200ms));
  REQUIRE(c.fleetctl(0, {"start", dir + "/conflict-global.1.service"}).exit == 0);
  // A later unit running proves the engine has passed over conflict-global.1.
  c.write_unit("marker.service", lasting_unit());
  REQUIRE(c.fleetctl(0, {"start", dir + "/marker.service"}).exit == 0);
  REQUIRE(wait_until([&] { return all_running(c, {"marker.service"}); }, kSettle, 200ms));
  CHECK(rows_of(list_units(c), "conflict-global.1.service").empty());
  CHECK(running_hosts(list_units(c), "conflict-global.0.service").size() == 3);
  for (std::size_t h = 0; h < 3; ++h)
    CHECK(c.host(h).unit_state("conflict-global.1.service") != "active");

  // --- Invalid units are rejected before they reach the registry, by fleetctl and by the API.
  c.write_unit("bad-combo.service", lasting_unit("Global=true\nMachineOf=web.1.service\n"));
  auto bad = c.fleetctl(0, {"submit", dir + "/bad-combo.service"});
  CHECK(bad.exit == 1);
  CHECK(contains(bad.err, "Global cannot be used with Peers"));
  c.write_unit("bad-syntax.service", "[Service]\nExecStart=/bin/true\nthis is not an option\n");
  auto syntax = c.fleetctl(0, {"submit", dir + "/bad-syntax.service"});
  CHECK(syntax.exit == 1);
  CHECK(contains(syntax.err, "bad-syntax.service"));
  auto api = http_request(c.api_url(1), "PUT", "/fleet/v1/units/raw-bad.service",
                          R"({"desiredState":"launched","options":[)"
                          R"({"section":"X-Fleet","name":"Global","value":"true"},)"
                          R"({"section":"X-Fleet","name":"MachineID","value":"abc"}]})");
  CHECK(api.status == 400);
  CHECK(contains(api.body, "MachineID cannot be used with Global"));
  for (const char* u : {"bad-combo.service", "bad-syntax.service", "raw-bad.service"})
    CHECK_MESSAGE(unit_file_row(c, u).empty(), u);

  // etcd stayed healthy throughout: no fleetd saw a watch stream fail.
  for (std::size_t h = 0; h < 3; ++h) {
    auto j = c.host(h).run({"journalctl", "-u", "fleetd", "--no-pager"});
    CHECK_MESSAGE(!contains(j.out, "watch stream failed"), "host " << h + 1 << ": " << j.out);
  }
  MESSAGE("placement test took " << since(t_all) << " s");
}
