// The Debian packages as an operator meets them: scripts/package builds fleetd_*.deb and
// fleetctl_*.deb (a CTest fixture, package_build), and a real-systemd host with a private layer
// over /usr, /etc and /var installs them with dpkg, so the machine's own system is never touched.
// Then what the operator does: edit /etc/fleet/fleet.yaml, `systemctl enable --now fleet.socket
// fleetd` (the API socket held by systemd, passed to fleetd), use
// fleetctl, read the man pages, complete commands with tab, reload, upgrade, purge.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/host/host.h"
#include "tests/harness/wait.h"

using namespace std::chrono_literals;
using fleet::testing::EtcdCluster;
using fleet::testing::Host;
using fleet::testing::HostOptions;
using fleet::testing::wait_until;
namespace fs = std::filesystem;

namespace {

// The one file `<dir>/<package>_*.deb` scripts/package left.
std::string deb_of(const std::string& package) {
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(FLEET_PACKAGE_DIST_DIR))
    if (e.path().filename().string().starts_with(package + "_") && e.path().extension() == ".deb")
      found.push_back(e.path().string());
  REQUIRE_MESSAGE(found.size() == 1,
                  "expected one " << package << " package in " << FLEET_PACKAGE_DIST_DIR);
  return found.front();
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Runs a shell command line in the host and requires it to succeed.
std::string sh(const Host& h, const std::string& cmd, std::chrono::milliseconds timeout = 60s) {
  auto r = h.run({"/bin/sh", "-c", cmd}, timeout);
  INFO("in host: " << cmd << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exit == 0);
  return r.out;
}

std::string main_pid(const Host& h, const std::string& unit) {
  return sh(h, "systemctl show -p MainPID --value " + unit);
}

// What bash offers on tab after `line` (the last word being completed), with the installed
// completion.
std::string bash_complete(const Host& h, const std::string& line) {
  return sh(h, "bash -c '. /usr/share/bash-completion/completions/fleetctl; COMP_WORDS=(" + line +
                   "); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _fleetctl; "
                   "echo \"${COMPREPLY[*]}\"'");
}

}  // namespace

TEST_CASE("the packages install on a host, serve fleetctl, reload, upgrade and purge") {
  const std::string fleetd_deb = deb_of("fleetd");
  const std::string fleetctl_deb = deb_of("fleetctl");
  EtcdCluster etcd;
  HostOptions o;
  o.name = "fleet-pkg";
  o.ip = fleet::testing::host_ip(1);
  o.private_system = true;
  auto booted = Host::boot(o);
  REQUIRE_MESSAGE(booted.has_value(), booted.error().describe());
  const Host& h = *booted.value();

  // This machine's image forbids maintainer scripts to start services (policy-rc.d, as Docker
  // images do); a Debian host has no such file. Removed from the host's private layer only.
  sh(h, "rm -f /usr/sbin/policy-rc.d");

  // --- install: nothing starts until it is configured ---
  sh(h, "dpkg -i " + fleetctl_deb + " " + fleetd_deb, 120s);
  CHECK_FALSE(fs::exists("/usr/bin/fleetd"));  // the machine's own /usr never sees it
  CHECK(sh(h,
           "ls /usr/bin/fleetd /usr/bin/fleetctl /lib/systemd/system/fleetd.service "
           "/lib/systemd/system/fleet.socket /etc/fleet/fleet.yaml | wc -l") == "5\n");
  CHECK(contains(sh(h, "dpkg-query -W -f='${Conffiles}' fleetd"), "/etc/fleet/fleet.yaml"));
  CHECK(contains(sh(h, "dpkg-query -W -f='${Recommends}' fleetd"), "etcd-server"));
  CHECK(h.run({"systemctl", "is-active", "fleetd"}).out == "inactive\n");
  CHECK(h.run({"systemctl", "is-enabled", "fleetd"}).out == "disabled\n");
  CHECK(sh(h, "grep ^ExecStart= /lib/systemd/system/fleetd.service") ==
        "ExecStart=/usr/bin/fleetd\n");
  // The release version (CMake's project version), with the suffix of the tree the package was
  // built from; fleetd, fleetctl and the API must all tell the same.
  std::string version = sh(h, "fleetd --version");
  REQUIRE(version.starts_with("fleetd version " FLEET_PROJECT_VERSION));
  version = version.substr(std::string("fleetd version ").size());
  version.pop_back();  // '\n'
  CHECK(sh(h, "fleetctl version") == "fleetctl version " + version + "\n");
  CHECK(sh(h, "dpkg-query -W -f='${Version}' fleetd").starts_with(FLEET_PROJECT_VERSION));

  // --- configure and start, as the installed fleet.yaml says ---
  sh(h, "printf 'etcd_servers: [" + etcd.endpoint(0) + "]\\npublic_ip: " + o.ip +
            "\\nmetadata: {role: packaged}\\n' >> /etc/fleet/fleet.yaml");
  sh(h, "systemctl enable --now fleet.socket fleetd");
  CHECK(h.run({"systemctl", "is-active", "fleet.socket"}).out == "active\n");
  const std::string id8 = h.machine_id().substr(0, 8);
  std::string machines;
  REQUIRE_MESSAGE(wait_until(
                      [&] {
                        machines = h.run({"fleetctl", "list-machines", "--no-legend"}).out;
                        return contains(machines, id8);
                      },
                      30s, 100ms),
                  machines << sh(h, "journalctl -u fleetd --no-pager | tail -20"));
  CHECK(contains(machines, o.ip));
  CHECK(contains(machines, "role=packaged"));

  // The API tells its version: the Server header and each machine's version.
  auto api = sh(h, "curl -si --unix-socket /var/run/fleet.sock http://fleet/fleet/v1/machines");
  CHECK(contains(api, "Server: fleetd/" + version + "\r\n"));
  CHECK(contains(api, "\"version\":\"" + version + "\""));

  sh(h, "fleetctl start /usr/share/doc/fleetctl/examples/hello.service", 60s);
  REQUIRE(wait_until([&] { return h.unit_state("hello.service") == "active"; }, 30s, 100ms));
  CHECK(contains(sh(h, "fleetctl list-units --no-legend"), "hello.service"));

  // --- reload (ExecReload sends SIGHUP): same process, still serving ---
  const std::string fleetd_pid = main_pid(h, "fleetd");
  sh(h, "systemctl reload fleetd");
  CHECK(main_pid(h, "fleetd") == fleetd_pid);
  CHECK(contains(sh(h, "fleetctl list-machines --no-legend"), id8));

  // --- man pages and completion ---
  CHECK(contains(sh(h, "MANPAGER=cat MANWIDTH=100 man fleetctl"), "list-machines"));
  CHECK(contains(sh(h, "MANPAGER=cat MANWIDTH=100 man 8 fleetd"), "etcd_servers"));
  CHECK(bash_complete(h, "fleetctl list-") == "list-machines list-unit-files list-units\n");
  CHECK(bash_complete(h, "fleetctl start --no") == "--no-block\n");
  CHECK(bash_complete(h, "fleetctl status hel") == "hello.service\n");  // asked the cluster
  CHECK(bash_complete(h, "fleetctl cordon " + id8.substr(0, 4)) == h.machine_id() + "\n");
  // zsh: the installed completion function with the completion builtins it calls stubbed.
  CHECK(sh(h,
           "zsh -f -c 'compadd() { shift; print -rl -- \"$@\"; }; "
           "_describe() { print -rl -- ${(P)${@[-1]}}; }; "
           "words=(fleetctl journal); CURRENT=2; PREFIX=jour; "
           ". /usr/share/zsh/vendor-completions/_fleetctl' | grep ^journal:") ==
        "journal:Print the journal of a unit in the cluster to stdout\n");

  // --- upgrade (the same package again): fleetd restarts, the unit keeps running ---
  const std::string hello_pid = main_pid(h, "hello.service");
  sh(h, "dpkg -i --force-confold " + fleetctl_deb + " " + fleetd_deb, 120s);
  CHECK(main_pid(h, "fleetd") != fleetd_pid);
  CHECK(h.run({"systemctl", "is-active", "fleetd"}).out == "active\n");
  CHECK(main_pid(h, "hello.service") == hello_pid);
  CHECK(contains(sh(h, "cat /etc/fleet/fleet.yaml"), "role: packaged"));  // kept
  REQUIRE(wait_until(
      [&] {
        return contains(h.run({"fleetctl", "list-units", "--no-legend"}).out, "active");
      },
      30s, 100ms));

  // --- purge: fleetd stopped, its files and configuration gone ---
  sh(h, "fleetctl destroy hello.service");
  sh(h, "dpkg --purge fleetd fleetctl", 120s);
  CHECK(h.run({"systemctl", "is-active", "fleetd"}).out == "inactive\n");
  CHECK(h.run({"systemctl", "is-active", "fleet.socket"}).out == "inactive\n");
  CHECK(h.run({"ls", "/usr/bin/fleetd", "/etc/fleet/fleet.yaml"}).exit != 0);
}
