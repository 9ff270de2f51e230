#pragma once
// Shared helpers of the real-systemd benchmarks (bench/agent, bench/cluster): counting units in
// a host's systemd, timing a condition, sampling a process's CPU time, printing the table.
// Header-only; benchmarks are not part of CTest.

#include <sys/types.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/harness/host/host.h"

namespace fleet::bench {

using Clock = std::chrono::steady_clock;
using testing::Host;

inline double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// "prefix-007.service"
// The median of several rounds' figures (one round's start ratio moves by +-0.15 with the direct
// start it is divided by). `v` must not be empty.
inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size();
  return m % 2 ? v[m / 2] : (v[m / 2 - 1] + v[m / 2]) / 2;
}

inline std::string bench_unit(const std::string& prefix, int i) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s-%03d.service", prefix.c_str(), i);
  return buf;
}

// The cheap workload every benchmark unit runs.
inline std::string bench_unit_text(const std::string& name) {
  return "[Unit]\nDescription=benchmark unit " + name +
         "\n\n[Service]\nExecStart=/bin/sleep infinity\n";
}

inline int count_lines(const std::string& out) {
  int n = 0;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line))
    if (line.find_first_not_of(" \t") != std::string::npos) ++n;
  return n;
}

// Units matching `pattern` that the host's systemd lists as sub-state running.
inline int count_running(const Host& h, const std::string& pattern) {
  auto r = h.run({"/usr/bin/systemctl", "list-units", "--type=service", "--state=running",
                  "--no-legend", "--plain", pattern});
  return r.exit == 0 ? count_lines(r.out) : -1;
}

// Units matching `pattern` that the host's systemd still knows (any state, loaded in memory).
inline int count_listed(const Host& h, const std::string& pattern) {
  auto r = h.run({"/usr/bin/systemctl", "list-units", "--type=service", "--all", "--no-legend",
                  "--plain", pattern});
  return r.exit == 0 ? count_lines(r.out) : -1;
}

// Seconds from `t0` until `pred` holds (polled back to back with `poll` between polls);
// negative if `timeout` passes first.
inline double time_until(Clock::time_point t0, const std::function<bool()>& pred,
                         std::chrono::milliseconds timeout,
                         std::chrono::milliseconds poll = std::chrono::milliseconds(20)) {
  while (true) {
    if (pred()) return seconds_since(t0);
    if (Clock::now() - t0 > timeout) return -1;
    std::this_thread::sleep_for(poll);
  }
}

// utime + stime of a process (machine PID) in seconds; negative if unreadable.
inline double process_cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  auto close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(stat.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  // Fields after "(comm)": state is field 3; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Machine PID of the host's fleetd (first process of its service cgroup); -1 if none.
inline pid_t fleetd_pid(const Host& h) {
  std::ifstream f(h.cgroup_dir() + "/system.slice/fleetd.service/cgroup.procs");
  pid_t pid = -1;
  if (f >> pid) return pid;
  return -1;
}

// On a failure: what the host's systemd shows for `pattern` and fleetd's last log lines.
inline void diagnose(const Host& h, const std::string& pattern) {
  auto units = h.run({"/usr/bin/systemctl", "list-units", "--type=service", "--all", "--no-legend",
                      "--plain", pattern});
  std::map<std::string, int> states;
  std::istringstream in(units.out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string unit, load, active, sub;
    if (ls >> unit >> load >> active >> sub) ++states[load + " " + active + " " + sub];
  }
  std::fprintf(stderr, "host %s, units %s:\n", h.name().c_str(), pattern.c_str());
  for (const auto& [k, v] : states) std::fprintf(stderr, "  %4d %s\n", v, k.c_str());
  auto log = h.run({"/bin/sh", "-c",
                    "journalctl -u fleetd --no-pager -o short-precise | grep -v ': api: ' | "
                    "grep -v ': engine: schedule' | tail -n 60"});
  std::fprintf(stderr, "fleetd log (agent and warnings):\n%s\n", log.out.c_str());
}

inline std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

struct Row {
  std::string figure, measured, target, verdict;
};

inline std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

inline std::string verdict(bool ok) { return ok ? "ok" : "MISSED"; }

// Prints the rows as a Markdown table (ready for Documentation/performance.md).
inline void print_table(const std::vector<Row>& rows) {
  std::printf("\n| figure | measured | target | verdict |\n|---|---|---|---|\n");
  for (const auto& r : rows)
    std::printf("| %s | %s | %s | %s |\n", r.figure.c_str(), r.measured.c_str(), r.target.c_str(),
                r.verdict.c_str());
  std::printf("\nload average at the end: %s\n", load_average().c_str());
  std::fflush(stdout);
}

}  // namespace fleet::bench
