// Three simulated hosts at once: isolation from each other and from the machine.
#include "tests/harness/host/host.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "tests/harness/host/machine_check.h"
#include "tests/harness/wait.h"

using namespace std::chrono_literals;
using fleet::testing::Host;
using fleet::testing::HostOptions;

namespace {

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::unique_ptr<Host> boot(const std::string& name, int index,
                           std::map<std::string, std::string> units = {}) {
  HostOptions o;
  o.name = name;
  o.ip = fleet::testing::host_ip(index);
  o.unit_contents = std::move(units);
  auto h = Host::boot(std::move(o));
  if (!h) FAIL("boot " << name << ": " << h.error().describe());
  return std::move(h).value();
}

std::string read_hostname() {
  std::ifstream in("/proc/sys/kernel/hostname");
  std::string s;
  std::getline(in, s);
  return s;
}

}  // namespace

TEST_CASE("three hosts are isolated from each other and leave the machine untouched") {
  auto before = fleet::testing::MachineSnapshot::take();
  std::string real_hostname = trim(read_hostname());
  std::vector<std::string> cgroups;
  {
    const std::string kUnit =
        "[Unit]\nDescription=dropped-in test unit\n[Service]\nExecStart=/bin/sleep 600\n";
    auto a = boot("fh-a", 1, {{"dropin.service", kUnit}});
    auto b = boot("fh-b", 2, {{"dropin.service", kUnit}});
    auto c = boot("fh-c", 3);

    std::set<std::string> ids;
    for (Host* h : {a.get(), b.get(), c.get()}) {
      CHECK(h->alive());
      CHECK(h->machine_id().size() == 32);
      auto id = h->run({"/bin/cat", "/etc/machine-id"});
      CHECK(id.exit == 0);
      CHECK(trim(id.out) == h->machine_id());
      ids.insert(trim(id.out));
      auto hn = h->run({"/bin/hostname"});
      CHECK(trim(hn.out) == h->name());
      // PID 1 inside is systemd; /tmp inside is private (a tmpfs of its own).
      CHECK(trim(h->run({"/bin/cat", "/proc/1/comm"}).out) == "systemd");
      CHECK(trim(h->run({"/usr/bin/stat", "-f", "-c", "%T", "/tmp"}).out) == "tmpfs");
    }
    CHECK(ids.size() == 3);
    for (Host* h : {a.get(), b.get(), c.get()}) cgroups.push_back(h->cgroup_dir());

    // A dropped-in unit started in one host is active there only.
    auto st = a->run({"/usr/bin/systemctl", "start", "dropin.service"}, 20s);
    CHECK_MESSAGE(st.exit == 0, st.err);
    CHECK(fleet::testing::wait_until([&] { return a->unit_state("dropin.service") == "active"; },
                                     10s));
    CHECK(b->unit_state("dropin.service") == "inactive");
    CHECK(c->unit_state("dropin.service") != "active");

    // A transient unit owned by the host's systemd.
    REQUIRE(b->start_transient("longrun", {"/bin/sleep", "600"}).has_value());
    CHECK(fleet::testing::wait_until([&] { return b->unit_state("longrun.service") == "active"; },
                                     10s));
    CHECK(a->unit_state("longrun.service") != "active");
    // Its process lives in b's own cgroup tree, not the machine's system.slice.
    CHECK(std::filesystem::exists(b->cgroup_dir() + "/system.slice/longrun.service"));

    // Halting one host kills its namespace and removes its cgroups; the others keep running.
    pid_t pid_b = b->pid();
    std::string cg_b = b->cgroup_dir();
    b->halt();
    CHECK_FALSE(b->alive());
    CHECK(::kill(pid_b, 0) != 0);
    CHECK_FALSE(std::filesystem::exists(cg_b));
    CHECK(b->run({"/bin/true"}).exit != 0);
    CHECK(a->unit_state("dropin.service") == "active");
    CHECK(trim(c->run({"/usr/bin/systemctl", "is-system-running"}).out) != "");
  }
  CHECK(trim(read_hostname()) == real_hostname);
  for (const auto& cg : cgroups) CHECK_FALSE(std::filesystem::exists(cg));
  auto problems = before.problems();
  for (const auto& p : problems) MESSAGE(p);
  CHECK(problems.empty());
}
