#pragma once
// Helpers shared by the e2e suites: reading fleetctl's tables the way a user reads them, and
// finding the engine leader. Header-only; every function runs fleetctl inside a live host.

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/cluster/cluster.h"

namespace fleet::testing::e2e {

using namespace std::chrono_literals;

// Deadline for anything the engine and agents do on their own.
inline constexpr auto kSettle = 30s;

// Elapsed seconds since `t0`.
inline double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// A unit that greets once and then runs until it is stopped (the fixture of fleet's functional
// tests).
inline std::string lasting_unit(const std::string& x_fleet = {},
                                const std::string& description = "lasting") {
  std::string text = "[Unit]\nDescription=" + description +
                     "\n\n[Service]\n"
                     "ExecStart=/bin/sh -c \"echo Hello, World!; exec tail -f /dev/null\"\n";
  if (!x_fleet.empty()) text += "\n[X-Fleet]\n" + x_fleet;
  return text;
}

// Whitespace-separated columns of every non-empty line.
inline std::vector<std::vector<std::string>> rows(const std::string& out) {
  std::vector<std::vector<std::string>> result;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    std::vector<std::string> cols;
    std::istringstream ls(line);
    std::string col;
    while (ls >> col) cols.push_back(col);
    result.push_back(cols);
  }
  return result;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// One row of `fleetctl list-units --fields unit,machine,active,sub`.
struct UnitRow {
  std::string unit;
  int host = -1;  // index of the machine's host in the cluster, -1 if unknown
  std::string active, sub;
};

inline std::vector<UnitRow> list_units(Cluster& c, int via = -1) {
  auto r =
      c.fleetctl(via >= 0 ? static_cast<std::size_t>(via) : c.any_up(),
                 {"list-units", "--no-legend", "--full", "--fields", "unit,machine,active,sub"});
  std::vector<UnitRow> out;
  if (r.exit != 0) return out;
  for (auto& row : rows(r.out)) {
    if (row.size() < 4) continue;
    const std::string& m = row[1];
    out.push_back({row[0], c.index_of(m.substr(0, m.find('/'))), row[2], row[3]});
  }
  return out;
}

// Rows of `unit` (several for a global unit).
inline std::vector<UnitRow> rows_of(const std::vector<UnitRow>& all, const std::string& unit) {
  std::vector<UnitRow> out;
  for (const auto& r : all)
    if (r.unit == unit) out.push_back(r);
  return out;
}

// Host of a non-global unit if it is `active running` there, else -1.
inline int running_on(const std::vector<UnitRow>& all, const std::string& unit) {
  auto rs = rows_of(all, unit);
  if (rs.size() != 1 || rs[0].active != "active" || rs[0].sub != "running") return -1;
  return rs[0].host;
}

// True when every unit in `units` is `active running` on exactly one host.
inline bool all_running(Cluster& c, const std::vector<std::string>& units) {
  auto all = list_units(c);
  for (const auto& u : units)
    if (running_on(all, u) < 0) return false;
  return true;
}

// Hosts on which a global unit is `active running`.
inline std::set<int> running_hosts(const std::vector<UnitRow>& all, const std::string& unit) {
  std::set<int> hosts;
  for (const auto& r : rows_of(all, unit))
    if (r.active == "active" && r.sub == "running") hosts.insert(r.host);
  return hosts;
}

// `fleetctl list-unit-files --fields unit,dstate,state,target` row of `unit`; empty if absent.
inline std::vector<std::string> unit_file_row(Cluster& c, const std::string& unit) {
  auto r = c.fleetctl(c.any_up(), {"list-unit-files", "--no-legend", "--full", "--fields",
                                   "unit,dstate,state,target"});
  for (auto& row : rows(r.out))
    if (!row.empty() && row[0] == unit) return row;
  return {};
}

// Runs a fleetctl command line through bash inside host i, exactly as a user types it there
// (brace expansion and all); fleetctl is on the PATH.
inline Host::Exec fleetctl_sh(Cluster& c, std::size_t i, const std::string& line,
                              std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  std::string bin = FLEET_FLEETCTL_PATH;
  std::string dir = bin.substr(0, bin.rfind('/'));
  return c.host(i).run({"/bin/bash", "-c", line}, timeout,
                       {"PATH=" + dir + ":/usr/sbin:/usr/bin:/sbin:/bin"});
}

// Hosts whose fleetd says (metric fleet_engine_leader) it holds the engine lease.
inline std::vector<int> metric_leaders(Cluster& c) {
  std::vector<int> out;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!c.up(i)) continue;
    auto r = http_request(c.api_url(i), "GET", "/metrics");
    if (r.status == 200 && contains(r.body, "\nfleet_engine_leader 1"))
      out.push_back(static_cast<int>(i));
  }
  return out;
}

// Host named by the registry's engine/leader key (read with etcdctl from a live host); -1 if none.
inline int registry_leader(Cluster& c) {
  std::string eps;
  for (const auto& e : c.etcd().endpoints()) eps += (eps.empty() ? "" : ",") + e;
  auto r = c.host(c.any_up())
               .run({"/usr/bin/etcdctl", "--endpoints=" + eps, "get", "/fleet/engine/leader",
                     "--print-value-only"},
                    std::chrono::seconds(10), {"ETCDCTL_API=3"});
  std::string id = r.out.substr(0, r.out.find('\n'));
  return r.exit == 0 ? c.index_of(id) : -1;
}

// Hosts (up) whose systemd says `unit` is active: the ground truth, whatever the registry says.
inline std::vector<int> active_on(Cluster& c, const std::string& unit) {
  std::vector<int> out;
  for (std::size_t i = 0; i < c.size(); ++i)
    if (c.up(i) && c.host(i).unit_state(unit) == "active") out.push_back(static_cast<int>(i));
  return out;
}

// A unit that logs `start|stop <unit> <host> <unix time>` to `log` (a file every host sees):
// the stop line is written after its process is gone (ExecStopPost).
inline std::string logging_unit(const std::string& log, const std::string& x_fleet = {}) {
  std::string text =
      "[Service]\n"
      "ExecStart=/bin/sh -c \"echo start %n $(cat /proc/sys/kernel/hostname) $(date +%%s.%%N) >> " +
      log +
      "; exec tail -f /dev/null\"\n"
      "ExecStopPost=/bin/sh -c \"echo stop %n $(cat /proc/sys/kernel/hostname) $(date +%%s.%%N) "
      ">> " +
      log + "\"\n";
  if (!x_fleet.empty()) text += "\n[X-Fleet]\n" + x_fleet;
  return text;
}

struct Event {
  std::string what, unit, host;
  double at = 0;
};

inline std::vector<Event> read_log(const std::string& path) {
  std::vector<Event> out;
  std::ifstream in(path);
  Event e;
  while (in >> e.what >> e.unit >> e.host >> e.at) out.push_back(e);
  return out;
}

// The most units down at once in a start/stop log: each is down from a stop line to its next
// start line (on any host).
inline int most_down(const std::string& path) {
  auto events = read_log(path);
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& a, const Event& b) { return a.at < b.at; });
  std::set<std::string> down;
  std::size_t most = 0;
  for (const auto& e : events) {
    if (e.what == "stop") down.insert(e.unit);
    if (e.what == "start") down.erase(e.unit);
    most = std::max(most, down.size());
  }
  return static_cast<int>(most);
}

// For a unit that moved off `host`: the last stop there and the first start elsewhere after it.
// Returns the gap in seconds (negative: the new copy started before the old one stopped).
inline std::optional<double> move_gap(const std::vector<Event>& log, const std::string& unit,
                                      const std::string& host) {
  std::optional<double> stopped, started;
  for (const auto& e : log)
    if (e.unit == unit && e.what == "stop" && e.host == host) stopped = e.at;
  for (const auto& e : log)
    if (e.unit == unit && e.what == "start" && e.host != host && (!started || e.at < *started))
      started = e.at;
  if (!stopped || !started) return std::nullopt;
  return *started - *stopped;
}

}  // namespace fleet::testing::e2e
