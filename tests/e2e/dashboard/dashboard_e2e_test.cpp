// The dashboard (fleetd's /ui/) in a real headless Chromium against three real-systemd hosts:
// it draws the machines and units, follows a host's death and its unit's move from the event
// stream without a reload, and its Stop button (after a confirmation) stops a unit on its host.
// And against an in-process fleetd with 1,000 running units: the lists stay virtualised.

#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "common/testing/temp_dir.h"
#include "fleetd/testing/in_process_fleetd.h"
#include "tests/e2e/dashboard/webdriver.h"
#include "tests/e2e/support/e2e.h"
#include "tests/harness/wait.h"

using namespace fleet::testing;
using namespace fleet::testing::e2e;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// What the cluster picture shows: per machine box its ID, whether it is drawn as down, and its
// unit chips as "unit:state".
constexpr const char* kPicture = R"(
  const out = {};
  for (const box of document.querySelectorAll('#cluster .machine')) {
    out[box.dataset.id] = {
      down: box.classList.contains('down'),
      units: [...box.querySelectorAll('.chip')].map((c) => c.dataset.unit + ':' + c.dataset.state),
    };
  }
  return out;)";

bool has_unit(const json& picture, const std::string& machine, const std::string& chip) {
  if (!picture.contains(machine)) return false;
  for (const auto& u : picture[machine]["units"])
    if (u.get<std::string>() == chip) return true;
  return false;
}

}  // namespace

TEST_CASE("the dashboard shows the cluster live and stops a unit after a confirmation") {
  if (!webdriver::available()) {
    MESSAGE(
        "SKIPPED: /usr/bin/chromium or /usr/bin/chromedriver is missing (scripts/install-deps "
        "installs chromium and chromium-driver)");
    return;
  }
  ClusterOptions o;
  o.label = "ui";
  // The browser talks to host 0; the units run on the two workers, so halting one leaves the
  // page's fleetd alone.
  o.metadata = {{{"role", "ui"}}, {{"role", "worker"}}, {{"role", "worker"}}};
  Cluster c(o);
  const std::string dir = c.work_dir();
  c.write_unit("moving.service", lasting_unit("MachineMetadata=role=worker\n"));
  c.write_unit("stay.service", lasting_unit("MachineMetadata=role=worker\n"));
  REQUIRE(
      c.fleetctl(0, {"start", "--no-block", dir + "/moving.service", dir + "/stay.service"}).exit ==
      0);
  REQUIRE(wait_until(
      [&] {
        return all_running(c, {"moving.service", "stay.service"});
      },
      kSettle, 200ms));
  const int first = running_on(list_units(c), "moving.service");
  REQUIRE(first >= 1);
  const int other = 3 - first;

  webdriver::Browser b;
  b.go(c.api_url(0) + "/ui/");
  // The picture: three machines up, each unit active in the box of the host systemd runs it on.
  json pic;
  auto shows_running = [&](const std::string& unit, int host) {
    return has_unit(pic, c.machine_id(static_cast<std::size_t>(host)), unit + ":active");
  };
  const bool drawn = wait_until(
      [&] {
        pic = b.run(kPicture);
        return pic.size() == 3 && shows_running("moving.service", first) &&
               shows_running("stay.service", running_on(list_units(c), "stay.service"));
      },
      10s, 100ms);
  INFO("picture: " << pic.dump());
  REQUIRE(drawn);
  for (std::size_t i = 0; i < 3; ++i) CHECK_FALSE(pic[c.machine_id(i)]["down"].get<bool>());

  // The machines and units views list them.
  b.go(c.api_url(0) + "/ui/#/machines");
  CHECK(
      wait_until([&] { return b.run("return document.querySelectorAll('tbody tr').length") == 3; },
                 5s, 100ms));
  b.go(c.api_url(0) + "/ui/#/units?q=*.service&state=active");
  CHECK(wait_until(
      [&] {
        return b.run(
                   "return [...document.querySelectorAll('.units .row[data-unit]')]"
                   ".map((r) => r.dataset.unit).join(' ')") == "moving.service stay.service";
      },
      5s, 100ms));

  // Halting the host of moving.service: its box turns red and the unit shows up, running, in
  // the other worker's box, on the same page (the marker survives: no reload).
  b.go(c.api_url(0) + "/ui/#/");
  b.run("window.noReload = true;");
  const auto halted = std::chrono::steady_clock::now();
  c.halt(static_cast<std::size_t>(first));
  const std::string dead = c.machine_id(static_cast<std::size_t>(first));
  // fleetctl, asked in the same loop, gives the time the registry shows the move: the page, fed
  // by the event stream, must not lag it by more than a moment.
  double cli_moved = -1;
  const bool followed = wait_until(
      [&] {
        if (cli_moved < 0 && running_on(list_units(c, other), "moving.service") == other)
          cli_moved = since(halted);
        pic = b.run(kPicture);
        return pic.contains(dead) && pic[dead]["down"].get<bool>() &&
               shows_running("moving.service", other);
      },
      kSettle, 50ms);
  INFO("picture: " << pic.dump());
  REQUIRE(followed);
  const double ui_moved = since(halted);
  if (cli_moved < 0) cli_moved = ui_moved;
  MESSAGE("after the halt, fleetctl showed the move at "
          << cli_moved << " s, the page at " << ui_moved << " s (agent_ttl " << o.agent_ttl_s
          << " s)");
  CHECK(ui_moved < cli_moved + 2.0);
  CHECK(b.run("return window.noReload === true") == true);
  CHECK_FALSE(has_unit(pic, dead, "moving.service:active"));

  // Stop, from the unit's page, after the confirmation dialog.
  const int stay_host = running_on(list_units(c), "stay.service");
  REQUIRE(stay_host >= 1);
  b.go(c.api_url(0) + "/ui/#/unit/stay.service");
  REQUIRE(wait_until(
      [&] { return b.run("return !!document.querySelector('button[data-action=stop]')") == true; },
      5s, 100ms));
  // Cancel leaves it alone; Confirm stops it.
  b.click("button[data-action=stop]");
  CHECK(b.run("return document.getElementById('confirm').open") == true);
  b.click("#confirm-cancel");
  CHECK(b.run("return document.getElementById('confirm').open") == false);
  b.click("button[data-action=stop]");
  b.click("#confirm-ok");
  CHECK(wait_until(
      [&] {
        auto row = unit_file_row(c, "stay.service");
        return row.size() >= 2 && row[1] == "loaded" &&
               c.host(static_cast<std::size_t>(stay_host)).unit_state("stay.service") != "active";
      },
      kSettle, 200ms));
  // ... and the page follows: the unit's state there is no longer active.
  CHECK(wait_until(
      [&] {
        return b.run(
                   "const s = document.getElementById('unit-state'); return s && s.textContent") !=
               "active";
      },
      5s, 100ms));

  // Cordon, from the machines view, after the confirmation.
  const std::string worker = c.machine_id(static_cast<std::size_t>(other));
  b.go(c.api_url(0) + "/ui/#/machines");
  const std::string cordon = "tr[data-id='" + worker + "'] button[data-action=cordon]";
  REQUIRE(wait_until(
      [&] {
        return b.run("return !!document.querySelector(arguments[0])", json::array({cordon})) ==
               true;
      },
      5s, 100ms));
  b.click(cordon);
  b.click("#confirm-ok");
  CHECK(wait_until(
      [&] {
        return contains(http_request(c.api_url(0), "GET", "/fleet/v1/machines").body,
                        "\"id\":\"" + worker + "\",\"maintenance\":\"cordoned\"");
      },
      5s, 100ms));

  // No script error, CSP violation or failed load all along.
  const json errors = b.run("return window.fleetErrors");
  CHECK_MESSAGE(errors.empty(), errors.dump());
  const auto console = b.severe_console();
  std::string joined;
  for (const auto& m : console) joined += m + "\n";
  CHECK_MESSAGE(console.empty(), joined);
}

TEST_CASE("the dashboard keeps 1,000 units to the rows in view") {
  if (!webdriver::available()) {
    MESSAGE("SKIPPED: /usr/bin/chromium or /usr/bin/chromedriver is missing");
    return;
  }
  TempDir dir("fleet-ui");
  fleet::fleetd::testing::InProcessOptions opts;
  opts.dir = dir.path.string();
  opts.tcp = true;
  fleet::fleetd::testing::InProcessFleetd fleetd(opts);
  REQUIRE(fleetd.start());
  const std::string api = fleetd.tcp_endpoint();
  constexpr int kUnits = 1000;
  for (int i = 1; i <= kUnits; ++i) {
    auto r = http_request(api, "PUT", "/fleet/v1/units/u" + std::to_string(i) + ".service",
                          R"({"desiredState":"launched","options":[{"section":"Service",)"
                          R"("name":"ExecStart","value":"/bin/true"}]})");
    REQUIRE(r.status == 201);
  }
  webdriver::Browser b;
  const auto t0 = std::chrono::steady_clock::now();
  b.go(api + "/ui/#/units");
  REQUIRE(wait_until(
      [&] {
        return b.run(
                   "const c = document.getElementById('unit-count'); return c && "
                   "c.textContent") == "1000 of 1000" &&
               b.run(
                   "return document.querySelectorAll('.units .row[data-unit] .txt-active')"
                   ".length > 0") == true;
      },
      30s, 100ms));
  MESSAGE("1,000 units listed " << since(t0) << " s after the page was opened");
  // Only the rows in view exist; scrolling to the end draws the last unit (numeric order).
  const auto rows = b.run("return document.querySelectorAll('.units .row[data-unit]').length");
  CHECK(rows.get<int>() < 100);
  const json scrolled = b.run(R"(
    const list = document.querySelector('.vlist.units');
    const t = performance.now();
    list.scrollTop = list.scrollHeight;
    list.dispatchEvent(new Event('scroll'));
    const ms = performance.now() - t;
    const names = [...list.querySelectorAll('.row[data-unit]')].map((r) => r.dataset.unit);
    return {ms, last: names[names.length - 1], count: names.length};)");
  MESSAGE("drawing the rows at the end of the list took " << scrolled["ms"].get<double>() << " ms");
  CHECK(scrolled["last"] == "u1000.service");
  CHECK(scrolled["count"].get<int>() < 100);
  // The cluster picture draws a bounded number of chips and links to the rest.
  b.go(api + "/ui/#/");
  CHECK(wait_until(
      [&] {
        return b.run("return document.querySelectorAll('#cluster .chip').length") == 300 &&
               b.run(
                   "return document.querySelector('#cluster .machine a[href*=\"units?machine\"]')"
                   "?.textContent") == "+700 more";
      },
      10s, 100ms));
  const json errors = b.run("return window.fleetErrors");
  CHECK_MESSAGE(errors.empty(), errors.dump());
  CHECK(b.severe_console().empty());
}
