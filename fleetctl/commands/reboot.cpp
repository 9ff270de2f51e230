// reboot, reboot-status, reboot-lock: coordinated rolling reboots (locksmith's etcd-lock
// strategy, built in). fleetctl only records the request and follows it; the engine leader
// carries it out, so it goes on when fleetctl goes away.

#include <algorithm>
#include <map>

#include "fleetctl/command.h"
#include "fleetctl/duration.h"
#include "fleetctl/machines.h"

namespace fleet::fleetctl {

namespace {

constexpr int kExitInProgress = 3;  // reboot-status: a reboot is pending or in progress

bool in_progress(const api::RebootStatus& s) {
  return !s.holders.empty() || (s.rollout && s.rollout->state == "running");
}

// Follows the rollout until it ends, printing each host's step as it changes.
int follow(CommandContext& ctx) {
  std::map<std::string, std::string> shown;
  while (true) {
    auto s = ctx.api->reboot_status();
    if (!s) {
      ctx.io.err << "Error retrieving the reboot rollout: " << s.error().message << "\n";
      return kExitFailure;
    }
    if (!s.value().rollout) {
      ctx.io.err << "No reboot rollout recorded\n";
      return kExitFailure;
    }
    const auto& r = *s.value().rollout;
    for (const auto& h : r.hosts) {
      if (shown[h.machine] == h.step) continue;
      shown[h.machine] = h.step;
      if (h.step != "pending") ctx.io.out << "Machine " << h.machine << " " << h.step << "\n";
    }
    ctx.io.out.flush();
    if (r.state == "done") {
      ctx.io.out << "Reboot rollout done: " << r.message << "\n";
      return kExitOk;
    }
    if (r.state != "running") {
      ctx.io.err << "Reboot rollout stopped: " << r.message << "\n";
      return kExitFailure;
    }
    ctx.sys.sleep(ctx.poll_interval * 4);
  }
}

int run_reboot(CommandContext& ctx) {
  const bool all = ctx.flags.boolean("all");
  if (all == !ctx.args.empty()) {
    ctx.io.err << "Name the machines to reboot, or --all\n";
    return kExitFailure;
  }
  auto timeout = parse_duration(ctx.flags.str("timeout"));
  if (!timeout || timeout.value() < std::chrono::seconds(10)) {
    ctx.io.err << "Error: --timeout: " << (timeout ? "at least 10s" : timeout.error().message)
               << "\n";
    return kExitFailure;
  }
  const auto max = ctx.flags.number("max-unavailable");
  if (max < 0 || max > api::kMaxRebootUnavailable) {
    ctx.io.err << "Error: --max-unavailable must be from 1 to " << api::kMaxRebootUnavailable
               << "\n";
    return kExitFailure;
  }
  std::vector<std::string> ids;
  if (all) {
    auto machines = ctx.api->list_machines();
    if (!machines) {
      ctx.io.err << "Error retrieving list of active machines: " << machines.error().message
                 << "\n";
      return kExitFailure;
    }
    for (const auto& m : machines.value()) ids.push_back(m.id);
  } else {
    for (const auto& arg : ctx.args) {
      auto m = resolve_machine(ctx, arg);
      if (!m) return kExitFailure;
      ids.push_back(m->id);
    }
  }
  auto st = ctx.api->start_reboot(
      ids, static_cast<int>(max),
      std::chrono::duration_cast<std::chrono::seconds>(timeout.value()).count());
  if (!st && st.error().code == Errc::conflict) {  // 409: one is in progress
    ctx.io.out << "A reboot rollout is in progress; following it\n";
  } else if (!st) {
    ctx.io.err << "Error: " << st.error().message << "\n";
    return kExitFailure;
  } else {
    ctx.io.out << "Reboot rollout of " << ids.size() << " machine(s) started\n";
  }
  if (ctx.flags.boolean("no-block")) return kExitOk;
  return follow(ctx);
}

int run_status(CommandContext& ctx) {
  auto s = ctx.api->reboot_status();
  if (!s) {
    ctx.io.err << "Error retrieving the reboot state: " << s.error().message << "\n";
    return kExitFailure;
  }
  const auto& v = s.value();
  // The semaphore as locksmithctl status printed it.
  ctx.io.out << "Available: " << std::max(0, v.max - static_cast<int>(v.holders.size())) << "\n"
             << "Max: " << v.max << "\n";
  if (!v.holders.empty()) {
    ctx.io.out << "\nMACHINE ID\n";
    for (const auto& h : v.holders) ctx.io.out << h << "\n";
  }
  if (v.rollout) {
    const auto& r = *v.rollout;
    ctx.io.out << "\nRollout: " << r.state << " (max unavailable " << r.max_unavailable << ")";
    if (!r.message.empty()) ctx.io.out << ": " << r.message;
    ctx.io.out << "\n";
    for (const auto& h : r.hosts) ctx.io.out << h.machine << "\t" << h.step << "\n";
  }
  return in_progress(v) ? kExitInProgress : kExitOk;
}

int run_lock(CommandContext& ctx) {
  const std::string usage =
      "Usage: fleetctl reboot-lock set-max N | lock MACHINE | unlock MACHINE\n";
  if (ctx.args.size() != 2) {
    ctx.io.err << usage;
    return kExitFailure;
  }
  const std::string& verb = ctx.args[0];
  if (verb == "set-max") {
    const std::string& n = ctx.args[1];
    if (n.empty() || n.size() > 4 || !std::all_of(n.begin(), n.end(), ::isdigit)) {
      ctx.io.err << "Error: the max must be a number from 0 to 1000\n";
      return kExitFailure;
    }
    auto st = ctx.api->reboot_lock("setMax", {}, std::stoi(n));
    if (!st) {
      ctx.io.err << "Error: " << st.error().message << "\n";
      return kExitFailure;
    }
    ctx.io.out << "Reboot lock max set to " << n << "\n";
    return kExitOk;
  }
  if (verb != "lock" && verb != "unlock") {
    ctx.io.err << usage;
    return kExitFailure;
  }
  // Unlock also works for a machine that is down (by its full ID): it may never come back.
  std::string id = ctx.args[1];
  if (verb == "lock" || id.size() != 32) {
    auto m = resolve_machine(ctx, id);
    if (!m) return kExitFailure;
    id = m->id;
  }
  auto st = ctx.api->reboot_lock(verb, id, 0);
  if (!st) {
    ctx.io.err << "Error: " << st.error().message << "\n";
    return kExitFailure;
  }
  ctx.io.out << "Machine " << id << (verb == "lock" ? " holds" : " released") << " a reboot slot\n";
  return kExitOk;
}

}  // namespace

Command reboot_command() {
  Command c;
  c.name = "reboot";
  c.usage = "[--max-unavailable=N] [--timeout=DURATION] [--no-block] (--all | MACHINE...)";
  c.summary = "Reboot machines one at a time, draining each first";
  c.description =
      "Records a rolling reboot that the cluster carries out: for each machine in turn (at most "
      "N at once, under the cluster's reboot semaphore), drain it, have its fleetd reboot it "
      "through systemd, wait until it is back (same machine ID, new boot) and uncordon it. A "
      "machine that is not drained and back within --timeout stops the rollout, its slot held: "
      "no further machine goes down while one is lost.\n\nFollows the rollout until it ends "
      "(exit 0 when done, 1 when it stopped); running it again while one is in progress follows "
      "that one. The rollout goes on if fleetctl goes away. --max-unavailable also sets the "
      "semaphore's max (default: keep it, initially 1).";
  c.flags = {
      FlagSpec("all", FlagType::boolean, "", "Reboot every machine of the cluster"),
      FlagSpec("max-unavailable", FlagType::integer, "0",
               "Machines in maintenance at once (sets the reboot semaphore's max)"),
      FlagSpec("timeout", FlagType::string, "10m",
               "Per machine: how long draining and rebooting may take"),
      FlagSpec("no-block", FlagType::boolean, "", "Start the rollout and return"),
  };
  c.run = &run_reboot;
  return c;
}

Command reboot_status_command() {
  Command c;
  c.name = "reboot-status";
  c.usage = "";
  c.summary = "Show the reboot semaphore and the rolling reboot";
  c.description =
      "Prints the reboot semaphore (available slots, max, holders) as locksmithctl status did, "
      "and each machine's step of the last rolling reboot. Exits 0 when no reboot is pending or "
      "in progress, 3 while one is (a slot is held or a rollout runs).";
  c.run = &run_status;
  return c;
}

Command reboot_lock_command() {
  Command c;
  c.name = "reboot-lock";
  c.usage = "set-max N | lock MACHINE | unlock MACHINE";
  c.summary = "Change the cluster's reboot semaphore";
  c.description =
      "set-max N: at most N machines may hold a slot. lock MACHINE: take a slot for a machine "
      "(exit 1 when none is free), as a host's own update agent does before it reboots. unlock "
      "MACHINE: free its slot (a machine that is down is named by its full ID).";
  c.run = &run_lock;
  return c;
}

}  // namespace fleet::fleetctl
