// SystemdUnitManager against a real systemd: agent_probe runs inside a test host (it needs that
// host's /run/dbus/system_bus_socket) and prints what it saw; these tests assert on that output
// and cross-check with the host's own systemctl.
#include <doctest/doctest.h>

#include <sstream>

#include "tests/harness/host/host.h"

#ifndef AGENT_PROBE
#error "AGENT_PROBE must be the path of the agent_probe executable"
#endif

using namespace std::chrono_literals;
using fleet::testing::Host;

namespace {

// `private_system`: the host gets its own /etc, for tests that change the bus's configuration.
std::unique_ptr<Host> boot(const std::string& name, bool private_system = false) {
  fleet::testing::HostOptions o;
  o.name = name;
  o.ip = fleet::testing::host_ip(1);
  o.private_system = private_system;
  auto h = Host::boot(std::move(o));
  if (!h) FAIL("boot " << name << ": " << h.error().describe());
  return std::move(h).value();
}

Host::Exec probe(const Host& h, std::vector<std::string> args,
                 std::chrono::milliseconds timeout = 90s) {
  args.insert(args.begin(), AGENT_PROBE);
  auto r = h.run(args, timeout);
  std::string shown = r.out.size() > 1500
                          ? r.out.substr(0, 700) + "\n...\n" + r.out.substr(r.out.size() - 700)
                          : r.out;
  MESSAGE("probe " << args[1] << " exit=" << r.exit << "\n" << shown << r.err.substr(0, 1500));
  return r;
}

bool has_line(const std::string& out, const std::string& prefix) {
  std::istringstream in(out);
  for (std::string l; std::getline(in, l);)
    if (l.rfind(prefix, 0) == 0) return true;
  return false;
}

size_t count_lines(const std::string& out, const std::string& prefix) {
  std::istringstream in(out);
  size_t n = 0;
  for (std::string l; std::getline(in, l);) n += l.rfind(prefix, 0) == 0 ? 1 : 0;
  return n;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TEST_CASE("a unit is loaded, started, stopped and unloaded") {
  auto h = boot("um-basic");
  auto r = probe(*h, {"load", "hello.service=[Service]\\nExecStart=/bin/sleep 600\\n"});
  REQUIRE(r.exit == 0);
  CHECK(has_line(probe(*h, {"files"}).out, "file hello.service"));
  CHECK(trim(h->run({"/usr/bin/readlink", "/run/systemd/system/hello.service"}).out) ==
        "/run/fleet/units/hello.service");
  CHECK(has_line(probe(*h, {"list", "hello.service"}).out,
                 "status unit=hello.service load=loaded active=inactive sub=dead pid=0"));

  REQUIRE(probe(*h, {"start", "hello.service"}).exit == 0);
  CHECK(h->unit_state("hello.service") == "active");
  auto listed = probe(*h, {"list", "hello.service"}).out;
  CHECK(has_line(listed, "status unit=hello.service load=loaded active=active sub=running pid="));
  std::string pid =
      trim(h->run({"/usr/bin/systemctl", "show", "-P", "MainPID", "hello.service"}).out);
  CHECK(pid != "0");
  CHECK(has_line(listed,
                 "status unit=hello.service load=loaded active=active sub=running pid=" + pid));

  REQUIRE(probe(*h, {"stop", "hello.service"}).exit == 0);
  CHECK(h->unit_state("hello.service") == "inactive");
  CHECK(has_line(probe(*h, {"list", "hello.service"}).out,
                 "status unit=hello.service load=loaded active=inactive sub=dead pid=0"));

  REQUIRE(probe(*h, {"unload", "hello.service"}).exit == 0);
  CHECK(has_line(probe(*h, {"list", "hello.service"}).out,
                 "status unit=hello.service load=not-found active=inactive sub=dead"));
  CHECK_FALSE(has_line(probe(*h, {"files"}).out, "file hello.service"));
  CHECK(h->run({"/usr/bin/test", "-e", "/run/systemd/system/hello.service"}).exit != 0);
  CHECK(h->run({"/usr/bin/test", "-e", "/run/fleet/units/hello.service"}).exit != 0);

  // Loaded again with other content: systemd reads the new file, not a memory of the old one.
  REQUIRE(probe(*h, {"load", "hello.service=[Service]\\nExecStart=/bin/sleep 601\\n"}).exit == 0);
  REQUIRE(probe(*h, {"start", "hello.service"}).exit == 0);
  CHECK(h->run({"/usr/bin/systemctl", "show", "-P", "ExecStart", "hello.service"})
            .out.find("sleep 601") != std::string::npos);
  REQUIRE(probe(*h, {"unload", "hello.service"}).exit == 0);
  CHECK(h->unit_state("hello.service") == "inactive");

  // Unknown units: start is an error naming the unit, unload is idempotent.
  auto missing = probe(*h, {"start", "missing.service"});
  CHECK(missing.exit == 1);
  CHECK(has_line(missing.out, "result=error code=not found"));
  CHECK(probe(*h, {"unload", "hello.service"}).exit == 0);
}

// A unit file of the host's own under the same name is never replaced by a link to ours.
TEST_CASE("loading a unit whose name the host's own runtime unit file has is refused") {
  auto h = boot("um-own");
  const std::string own = "[Service]\nExecStart=/bin/sleep 700\n";
  REQUIRE(h->write_file("/run/systemd/system/own.service", own));
  auto r = probe(*h, {"load", "own.service=[Service]\\nExecStart=/bin/sleep 600\\n"});
  CHECK(r.exit == 1);
  CHECK(has_line(r.out, "result=error"));
  auto kept = h->run({"/bin/cat", "/run/systemd/system/own.service"});
  CHECK(kept.out == own);
}

// New units are linked without a Reload: systemd finds them because their unit directory's
// mtime changed. Here the directory gets its old mtime back, so systemd's cache of unit files
// looks current and misses them; the manager must notice and reload once, or list() reports
// the unit not-found and start() fails.
TEST_CASE("new units systemd's unit file cache missed are listed and started after one reload") {
  auto h = boot("um-stale");
  // Makes systemd bring its cache up to date now (loading a unit it has never seen rebuilds the
  // cache when any unit directory changed since), then remembers the directory's mtime.
  auto remember = [](const std::string& probe_unit) {
    return "busctl call org.freedesktop.systemd1 /org/freedesktop/systemd1 "
           "org.freedesktop.systemd1.Manager LoadUnit s " +
           probe_unit + " >/dev/null; touch -r /run/systemd/system /tmp/ref";
  };
  const std::string restore = "touch -r /tmp/ref /run/systemd/system";
  auto listed = probe(*h, {"sh", remember("none-1.service"), ";", "load",
                           "late.service=[Service]\\nExecStart=/bin/sleep 600\\n", ";", "sh",
                           restore, ";", "list", "late.service"});
  CHECK(has_line(listed.out, "step load ok"));
  CHECK(
      has_line(listed.out, "status unit=late.service load=loaded active=inactive sub=dead pid=0"));
  auto started = probe(*h, {"sh", remember("none-2.service"), ";", "load",
                            "later.service=[Service]\\nExecStart=/bin/sleep 600\\n", ";", "sh",
                            restore, ";", "start", "later.service"});
  CHECK(has_line(started.out, "result=ok"));
  CHECK(h->unit_state("later.service") == "active");
  // Both misses were logged.
  CHECK(listed.err.find("systemd did not find new unit files") != std::string::npos);
  CHECK(started.err.find("systemd did not find new unit files") != std::string::npos);
}

TEST_CASE("a unit with an [Install] section is enabled at runtime and pulled in by WantedBy") {
  auto h = boot("um-install");
  auto r = probe(*h, {"load", "anchor.service=[Service]\\nExecStart=/bin/sleep 600\\n",
                      "side.service=[Service]\\nExecStart=/bin/sleep 600\\n\\n[Install]\\n"
                      "WantedBy=anchor.service\\n"});
  REQUIRE_MESSAGE(r.exit == 0, r.out);
  CHECK(trim(h->run({"/usr/bin/systemctl", "is-enabled", "side.service"}).out) ==
        "enabled-runtime");
  CHECK(trim(h->run({"/usr/bin/systemctl", "is-enabled", "anchor.service"}).out) ==
        "linked-runtime");
  CHECK(h->unit_state("side.service") == "inactive");
  REQUIRE(probe(*h, {"start", "anchor.service"}).exit == 0);
  CHECK(h->unit_state("side.service") == "active");  // started by systemd, not by the manager
  REQUIRE(probe(*h, {"unload", "side.service"}).exit == 0);
  CHECK(h->unit_state("side.service") == "inactive");
  CHECK(h->run({"/usr/bin/systemctl", "is-enabled", "side.service"}).exit != 0);
  // The loaded anchor forgot the dependency its [Install] link gave it.
  auto wants = h->run({"/usr/bin/systemctl", "show", "-P", "Wants", "anchor.service"});
  CHECK(wants.out.find("side.service") == std::string::npos);
  REQUIRE(probe(*h, {"unload", "anchor.service"}).exit == 0);
  CHECK(h->unit_state("anchor.service") == "inactive");
}

TEST_CASE("a failing Type=simple unit is reported failed") {
  auto h = boot("um-fail");
  REQUIRE(
      probe(*h, {"load", "bad.service=[Service]\\nType=simple\\nExecStart=/bin/false\\n"}).exit ==
      0);
  // The start job itself succeeds ("done"); the failure shows in the state.
  auto r = probe(*h, {"--timeout-ms", "30000", "start-watch", "failed/failed", "bad.service"});
  CHECK(r.exit == 0);
  CHECK(has_line(r.out, "event unit=bad.service load=loaded active=failed sub=failed"));
  CHECK(has_line(probe(*h, {"list", "bad.service"}).out,
                 "status unit=bad.service load=loaded active=failed sub=failed pid=0"));
  CHECK(h->unit_state("bad.service") == "failed");
  // Unload resets the failed state.
  REQUIRE(probe(*h, {"unload", "bad.service"}).exit == 0);
  CHECK(h->unit_state("bad.service") != "failed");
}

TEST_CASE("state changes arrive through the subscription") {
  auto h = boot("um-watch");
  REQUIRE(probe(*h, {"load", "brief.service=[Service]\\nExecStart=/bin/sleep 1\\n"}).exit == 0);
  // The probe only listens to callbacks: it must see the unit run, then end.
  auto r = probe(*h, {"--timeout-ms", "30000", "start-watch", "inactive/dead", "brief.service"});
  CHECK(r.exit == 0);
  auto running = r.out.find("event unit=brief.service load=loaded active=active sub=running pid=");
  REQUIRE(running != std::string::npos);
  // (A first inactive/dead event may come when the start job is queued: level-triggered.)
  auto ended = r.out.find("event unit=brief.service load=loaded active=inactive sub=dead", running);
  REQUIRE(ended != std::string::npos);
  CHECK(running < ended);
  CHECK_FALSE(
      has_line(r.out, "event unit=brief.service load=loaded active=active sub=running pid=0"));
}

TEST_CASE("200 units loaded in one batch all reach active/running") {
  auto h = boot("um-batch");
  auto loaded = probe(*h, {"gen-load", "p", "200"});
  REQUIRE(loaded.exit == 0);
  CHECK(count_lines(probe(*h, {"files"}).out, "file p-") == 200);
  auto r = probe(*h, {"--timeout-ms", "60000", "start-watch", "active/running", "@p:200"}, 120s);
  CHECK(r.exit == 0);
  auto listed = probe(*h, {"list", "@p:200"}).out;
  CHECK(count_lines(listed, "status unit=p-") == 200);
  size_t running = 0;
  std::istringstream in(listed);
  for (std::string l; std::getline(in, l);)
    running += l.find("active=active sub=running pid=") != std::string::npos &&
               l.find("pid=0") == std::string::npos;
  CHECK(running == 200);
  auto sys = h->run(
      {"/usr/bin/systemctl", "list-units", "p-*", "--state=running", "--no-legend", "--plain"});
  CHECK(count_lines(sys.out, "p-") == 200);
  REQUIRE(probe(*h, {"unload", "@p:200"}, 120s).exit == 0);
  CHECK(count_lines(probe(*h, {"files"}).out, "file p-") == 0);
}

// systemd tracks each queued job's client with a D-Bus match rule, and dbus-daemon gives it 512:
// a batch larger than that, sent all at once, used to push systemd off the bus (lost replies,
// lost JobRemoved, ended subscriptions). The manager keeps at most 256 of its jobs queued.
TEST_CASE("800 units started and stopped in one batch each see every job's result") {
  auto h = boot("um-jobs");
  REQUIRE(probe(*h, {"gen-load", "q", "800"}, 120s).exit == 0);
  CHECK(probe(*h, {"--timeout-ms", "60000", "start", "@q:800"}, 120s).exit == 0);
  auto running = h->run(
      {"/usr/bin/systemctl", "list-units", "q-*", "--state=running", "--no-legend", "--plain"});
  CHECK(count_lines(running.out, "q-") == 800);
  CHECK(probe(*h, {"--timeout-ms", "60000", "stop", "@q:800"}, 120s).exit == 0);
  auto left = h->run(
      {"/usr/bin/systemctl", "list-units", "q-*", "--state=active", "--no-legend", "--plain"});
  CHECK(count_lines(left.out, "q-") == 0);
  auto refused = h->run({"/bin/sh", "-c", "journalctl --no-pager | grep -c 'more match rules'"});
  CHECK(trim(refused.out) == "0");
}

// Jobs still queued when a start gives up waiting (job_timeout) hold systemd's match rules as
// long as they are queued: they must keep counting against the manager's limit of 256 queued
// jobs, or a later batch pushes systemd past the bus's 512 rules and off the bus.
TEST_CASE("jobs slower than the job timeout keep counting against the limit of queued jobs") {
  auto h = boot("um-slow");
  // Start jobs of oneshot services finish when their ExecStart exits: these stay queued.
  REQUIRE(probe(*h, {"gen-load", "slow", "256", "/bin/sleep 600", "oneshot"}, 120s).exit == 0);
  REQUIRE(probe(*h, {"gen-load", "fast", "1"}).exit == 0);
  auto r = probe(
      *h, {"--job-timeout-ms", "2000", "start", "@slow:256", ";", "start", "fast-1.service"}, 120s);
  CHECK(has_line(r.out, "step start error code=timeout"));
  CHECK(has_line(r.out, "result=error code=unavailable"));
  CHECK(r.out.find("too many systemd jobs still queued") != std::string::npos);
  auto fast = h->run({"/usr/bin/systemctl", "is-active", "fast-1.service"});
  CHECK(trim(fast.out) == "inactive");
  auto queued = h->run({"/bin/sh", "-c", "systemctl list-jobs --no-legend | grep -c slow-"});
  CHECK(trim(queued.out) == "256");
}

// Another client can still push systemd off the bus (here: a bus that allows 100 match rules, and
// 200 jobs). The jobs queued then are reported lost, not waited for until the job timeout, and the
// manager subscribes again when systemd is back: later state changes still arrive.
TEST_CASE("after systemd leaves the bus and comes back, state changes arrive again") {
  auto booted = boot("um-rejoin", true);
  auto& h = *booted;
  auto conf = h.run({"/bin/sh", "-c",
                     "printf '<busconfig><limit name=\"max_match_rules_per_connection\">100"
                     "</limit></busconfig>\\n' > /etc/dbus-1/system.d/zz-match-limit.conf && "
                     "systemctl reload dbus"});
  REQUIRE_MESSAGE(conf.exit == 0, conf.err);
  REQUIRE(probe(h, {"gen-load", "r", "200"}, 120s).exit == 0);
  REQUIRE(probe(h, {"gen-load", "w", "1"}).exit == 0);
  auto r = probe(h,
                 {"--timeout-ms", "60000", "start", "@r:200", ";", "start-watch", "active/running",
                  "w-1.service"},
                 150s);
  CHECK(has_line(r.out, "step start error code=unavailable"));
  CHECK((r.out + r.err).find("systemd left the system bus") != std::string::npos);
  CHECK(r.exit == 0);
  CHECK(has_line(r.out, "event unit=w-1.service load=loaded active=active sub=running"));
}

// A restart of dbus-daemon cuts every client off. The manager reconnects by itself and subscribes
// again: jobs and state changes work as before (w-2's start is seen through the signals).
TEST_CASE("after dbus-daemon restarts, the manager reconnects and works again") {
  auto h = boot("um-dbus");
  REQUIRE(probe(*h, {"gen-load", "w", "2"}).exit == 0);
  auto r = probe(*h,
                 {"--timeout-ms", "30000", "start-watch", "active/running", "w-1.service", ";",
                  "sh", "systemctl", "restart", "dbus", ";", "wait-disconnected", ";",
                  "wait-connected", ";", "start-watch", "active/running", "w-2.service"},
                 90s);
  CHECK(has_line(r.out, "step start-watch ok"));
  CHECK(has_line(r.out, "step sh ok"));
  CHECK(has_line(r.out, "step wait-disconnected ok"));
  CHECK(has_line(r.out, "step wait-connected ok"));
  CHECK(r.exit == 0);
  CHECK(r.err.find("system bus connection restored") != std::string::npos);
  CHECK(trim(h->run({"/usr/bin/systemctl", "is-active", "w-2.service"}).out) == "active");
}

// With the system bus down, unload removes nothing (the unit would run on with no file for a
// restarted fleetd to adopt it from) and says so; once the bus is back it unloads.
TEST_CASE("unload while the system bus is down removes nothing, and works once it is back") {
  auto h = boot("um-unload");
  REQUIRE(probe(*h, {"gen-load", "u", "1"}).exit == 0);
  auto r = probe(*h,
                 {"--timeout-ms",
                  "30000",
                  "start-watch",
                  "active/running",
                  "u-1.service",
                  ";",
                  "sh",
                  "systemctl",
                  "stop",
                  "dbus.socket",
                  "dbus.service",
                  ";",
                  "wait-disconnected",
                  ";",
                  "unload",
                  "u-1.service",
                  ";",
                  "files",
                  ";",
                  "sh",
                  "systemctl",
                  "start",
                  "dbus.socket",
                  "dbus.service",
                  ";",
                  "wait-connected",
                  ";",
                  "unload",
                  "u-1.service",
                  ";",
                  "files"},
                 90s);
  CHECK(has_line(r.out, "step unload error code=unavailable"));
  CHECK(count_lines(r.out, "file u-1.service") == 1);  // kept by the first unload only
  CHECK(has_line(r.out, "step unload ok"));
  CHECK(r.exit == 0);
  CHECK(trim(h->run({"/usr/bin/systemctl", "is-active", "u-1.service"}).out) != "active");
}

// After a reconnect the manager subscribes again; if systemd refuses (here: a bus policy denies
// Subscribe until the test lifts it), it tries again until it succeeds. Without a subscription
// no state change would ever arrive: w-2 reaching active/running is seen only through signals.
TEST_CASE("a refused Subscribe after a reconnect is retried until state changes arrive") {
  auto booted = boot("um-resub", true);
  auto& h = *booted;
  REQUIRE(probe(h, {"gen-load", "w", "2"}).exit == 0);
  const std::string deny =
      "printf '<busconfig><policy context=\"mandatory\"><deny "
      "send_destination=\"org.freedesktop.systemd1\" "
      "send_interface=\"org.freedesktop.systemd1.Manager\" send_member=\"Subscribe\"/>"
      "</policy></busconfig>\\n' > /etc/dbus-1/system.d/zz-deny-subscribe.conf";
  // Until dbus-daemon has refused one Subscribe of the reconnected manager (it logs each refusal).
  const std::string refused =
      "for i in $(seq 300); do journalctl --no-pager -u dbus | grep -q 'member=\"Subscribe\"' && "
      "exit 0; sleep 0.1; done; exit 1";
  auto r = probe(h,
                 {"--timeout-ms",
                  "30000",
                  "start-watch",
                  "active/running",
                  "w-1.service",
                  ";",
                  "sh",
                  deny + " && systemctl restart dbus",
                  ";",
                  "wait-disconnected",
                  ";",
                  "wait-connected",
                  ";",
                  "sh",
                  refused,
                  ";",
                  "sh",
                  "rm /etc/dbus-1/system.d/zz-deny-subscribe.conf && systemctl reload dbus",
                  ";",
                  "start-watch",
                  "active/running",
                  "w-2.service"},
                 90s);
  CHECK(count_lines(r.out, "step sh ok") == 3);
  CHECK(r.err.find("subscribe again failed; retrying") != std::string::npos);
  CHECK(r.exit == 0);
  CHECK(has_line(r.out, "event unit=w-2.service load=loaded active=active sub=running"));
}
