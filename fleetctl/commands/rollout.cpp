// rollout, rollout-status: rolling updates of a unit's or a template's instances. fleetctl only
// records the request and follows it; the engine leader carries it out (health-gated, reverting
// on an unhealthy instance), so it goes on when fleetctl goes away.

#include <map>
#include <sstream>

#include "fleetctl/command.h"
#include "fleetctl/duration.h"
#include "fleetctl/machines.h"
#include "fleetctl/tabwriter.h"
#include "fleetctl/unit_files.h"

namespace fleet::fleetctl {

namespace {

constexpr int kExitInProgress = 3;  // rollout-status: a rollout is in progress

std::string short_hash(const std::string& h) { return h.substr(0, 7); }

std::string where(CommandContext& ctx, const std::string& machine) {
  if (machine.empty()) return "no machine";
  if (auto m = cached_machine(ctx, machine)) return machine_legend(*m, false);
  return machine.substr(0, 8) + "...";
}

// Follows the rollout of `name` until it is over: one line per instance step, then a summary.
// 0 when it is done, 1 otherwise (naming the unit and what systemd reported).
int follow(CommandContext& ctx, const std::string& name) {
  std::map<std::string, std::string> shown;  // unit -> step printed
  int settled = 0;
  while (true) {
    auto got = ctx.api->get_rollout(name);
    if (!got) {
      ctx.io.err << "Error retrieving the rollout of " << name << ": " << got.error().message
                 << "\n";
      return kExitFailure;
    }
    if (!got.value()) {
      ctx.io.err << "No rollout of " << name << " recorded\n";
      return kExitFailure;
    }
    const api::Rollout& r = *got.value();
    const std::string total = std::to_string(r.instances.size());
    for (const auto& i : r.instances) {
      auto& seen = shown[i.unit];
      if (seen == i.step || i.step == "pending") continue;
      seen = i.step;
      if (i.step == "healthy" || i.step == "skipped") ++settled;
      const std::string count = "[" + std::to_string(settled) + "/" + total + "] ";
      if (i.step == "replacing") {
        ctx.io.out << i.unit << " replacing on " << where(ctx, i.machine) << "\n";
      } else if (i.step == "healthy") {
        ctx.io.out << count << i.unit << " healthy on " << where(ctx, i.machine) << "\n";
      } else if (i.step == "skipped") {
        ctx.io.out << count << i.unit << " skipped: " << i.message << "\n";
      } else if (i.step == "failed") {
        ctx.io.out << i.unit << " unhealthy on " << where(ctx, i.machine) << ": " << i.message
                   << "\n";
      } else if (i.step == "reverting") {
        ctx.io.out << i.unit << " back to content " << short_hash(i.old_hash) << " on "
                   << where(ctx, i.machine) << "\n";
      } else if (i.step == "reverted") {
        ctx.io.out << i.unit << " reverted, active on " << where(ctx, i.machine) << "\n";
      }
    }
    ctx.io.out.flush();
    if (r.over()) {
      const auto took = format_duration(std::chrono::milliseconds(r.ended_ms - r.started_ms));
      if (r.state == "done") {
        ctx.io.out << "Rollout of " << r.name << " done in " << took << ": " << r.message << "\n";
        return kExitOk;
      }
      ctx.io.err << "Rollout of " << r.name << " " << r.state << " after " << took << ": "
                 << r.message << "\n";
      return kExitFailure;
    }
    ctx.sys.sleep(ctx.poll_interval);
  }
}

Result<std::chrono::milliseconds> duration_flag(CommandContext& ctx, const char* name,
                                                std::chrono::milliseconds least) {
  auto d = parse_duration(ctx.flags.str(name));
  if (!d) return fail(Errc::invalid_argument, "--" + std::string(name) + ": " + d.error().message);
  if (d.value() < least)
    return fail(Errc::invalid_argument,
                "--" + std::string(name) + ": at least " + format_duration(least));
  return d.value();
}

int run_abort(CommandContext& ctx) {
  int exit = kExitOk;
  for (const auto& arg : ctx.args) {
    const std::string name = mangle_unit_name(arg);
    auto st = ctx.api->abort_rollout(name);
    if (!st) {
      ctx.io.err << "Error aborting the rollout of " << name << ": " << st.error().message << "\n";
      exit = kExitFailure;
      continue;
    }
    ctx.io.out << "Rollout of " << name << " aborting\n";
    if (ctx.flags.boolean("no-block")) continue;
    // The abort itself succeeded: the rollout ending aborted is what was asked.
    (void)follow(ctx, name);
  }
  return exit;
}

int run_rollout(CommandContext& ctx) {
  if (ctx.args.empty()) {
    ctx.io.err << "No units given\n";
    return kExitFailure;
  }
  if (ctx.flags.boolean("abort")) return run_abort(ctx);
  api::RolloutRequest rq;
  const auto max = ctx.flags.number("max-unavailable");
  if (max < 1 || max > api::kMaxRolloutUnavailable) {
    ctx.io.err << "Error: --max-unavailable must be from 1 to " << api::kMaxRolloutUnavailable
               << "\n";
    return kExitFailure;
  }
  rq.max_unavailable = static_cast<int>(max);
  auto healthy = duration_flag(ctx, "min-healthy", std::chrono::milliseconds(0));
  auto timeout = duration_flag(ctx, "timeout", std::chrono::seconds(1));
  for (const auto* d : {&healthy, &timeout})
    if (!*d) {
      ctx.io.err << "Error: " << d->error().message << "\n";
      return kExitFailure;
    }
  rq.min_healthy_ms = healthy.value().count();
  rq.timeout_ms = timeout.value().count();
  rq.revert = !ctx.flags.boolean("no-revert");
  for (const auto& arg : ctx.args) {
    const std::string name = mangle_unit_name(arg);
    auto options = unit_options_for(ctx, append_default_unit_type(arg), name, false);
    if (!options) {
      ctx.io.err << "Error: " << options.error().message << "\n";
      return kExitFailure;
    }
    rq.name = name;
    rq.options = std::move(options).value();
    auto started = ctx.api->start_rollout(rq);
    if (!started && started.error().code == Errc::conflict) {
      ctx.io.out << "A rollout of " << name << " is in progress; following it\n";
    } else if (!started) {
      ctx.io.err << "Error starting the rollout of " << name << ": " << started.error().message
                 << "\n";
      return kExitFailure;
    } else {
      const auto& r = started.value();
      ctx.io.out << "Rollout of " << name << " started: " << r.instances.size()
                 << " instance(s) to content " << short_hash(r.hash) << ", " << r.max_unavailable
                 << " at a time\n";
    }
    ctx.io.out.flush();
    if (ctx.flags.boolean("no-block")) continue;
    if (int rc = follow(ctx, name); rc != kExitOk) return rc;
  }
  return kExitOk;
}

int run_status(CommandContext& ctx) {
  std::vector<api::Rollout> list;
  if (ctx.args.empty()) {
    auto all = ctx.api->list_rollouts();
    if (!all) {
      ctx.io.err << "Error retrieving rollouts: " << all.error().message << "\n";
      return kExitFailure;
    }
    list = std::move(all).value();
  } else {
    for (const auto& arg : ctx.args) {
      const std::string name = mangle_unit_name(arg);
      auto one = ctx.api->get_rollout(name);
      if (!one) {
        ctx.io.err << "Error retrieving the rollout of " << name << ": " << one.error().message
                   << "\n";
        return kExitFailure;
      }
      if (!one.value()) {
        ctx.io.out << "No rollout of " << name << "\n";
        continue;
      }
      list.push_back(std::move(*one.value()));
    }
  }
  bool running = false;
  std::ostringstream table;
  table << "UNIT\tSTATE\tHEALTHY\tCONTENT\tMESSAGE\n";
  for (const auto& r : list) {
    running = running || !r.over();
    std::size_t healthy = 0;
    for (const auto& i : r.instances) healthy += i.step == "healthy" || i.step == "skipped";
    std::string content = short_hash(r.hash);
    if (!r.old_hash.empty()) content = short_hash(r.old_hash) + "->" + content;
    table << r.name << "\t" << r.state << (r.abort && !r.over() ? " (abort asked)" : "") << "\t"
          << healthy << "/" << r.instances.size() << "\t" << content << "\t"
          << (r.message.empty() ? "-" : r.message) << "\n";
  }
  if (!list.empty()) ctx.io.out << tabwrite(table.str());
  if (!ctx.args.empty()) {
    std::ostringstream steps;
    steps << "\nINSTANCE\tSTEP\tMACHINE\tMESSAGE\n";
    for (const auto& r : list)
      for (const auto& i : r.instances)
        steps << i.unit << "\t" << i.step << "\t"
              << (i.machine.empty() ? "-" : where(ctx, i.machine)) << "\t"
              << (i.message.empty() ? "-" : i.message) << "\n";
    if (!list.empty()) ctx.io.out << tabwrite(steps.str());
  }
  return running ? kExitInProgress : kExitOk;
}

}  // namespace

Command rollout_command() {
  Command c;
  c.name = "rollout";
  c.usage =
      "[--max-unavailable=N] [--min-healthy=DURATION] [--timeout=DURATION] [--no-block] "
      "[--no-revert] FILE... | --abort UNIT...";
  c.summary = "Replace a unit's or a template's instances with new content, a few at a time";
  c.description =
      "Records a rolling update that the cluster carries out. FILE is a unit file or a template "
      "(web@.service): its content is stored, then every unit of that name (for a template: "
      "every instance) is replaced, at most N at a time: the old copy is stopped and the new "
      "content started (on the same machine where it still fits), and the next one waits "
      "until it is active and stays active for --min-healthy. Desired states are kept.\n\n"
      "An instance that fails, restarts or leaves active within --min-healthy, or is not "
      "healthy within --timeout, stops the rollout: every instance already changed (and the "
      "template) gets its previous content back, and fleetctl exits 1 naming the unit and what "
      "systemd reported. --no-revert leaves them as they are.\n\nFollows the rollout (one line "
      "per step) until it ends; it goes on if fleetctl goes away or the engine leader changes. "
      "--abort UNIT stops a rollout in progress (reverting it unless it was started with "
      "--no-revert).\n\nRoll out a new version of a template:\n\tfleetctl rollout "
      "web@.service\n\nTwo at a time, each active for 30 s before the next:\n\tfleetctl rollout "
      "--max-unavailable=2 --min-healthy=30s web@.service";
  c.flags = {
      FlagSpec("max-unavailable", FlagType::integer, "1", "Instances replaced at once"),
      FlagSpec("min-healthy", FlagType::string, "5s",
               "How long a new instance must stay active to be healthy"),
      FlagSpec("timeout", FlagType::string, "5m",
               "Per instance: how long it may take to become healthy"),
      FlagSpec("no-block", FlagType::boolean, "", "Start the rollout and return"),
      FlagSpec("no-revert", FlagType::boolean, "",
               "On an unhealthy instance, stop without putting the previous content back"),
      FlagSpec("abort", FlagType::boolean, "", "Stop the rollouts of the named units"),
  };
  c.run = &run_rollout;
  return c;
}

Command rollout_status_command() {
  Command c;
  c.name = "rollout-status";
  c.usage = "[UNIT...]";
  c.summary = "Show rolling updates and their instances' steps";
  c.description =
      "Lists the rolling updates recorded (the one in progress or the last one of each unit or "
      "template): state, healthy instances, previous and new content, and why it stopped. With "
      "UNIT, also each instance's step and machine. Exits 0 when none is in progress, 3 while "
      "one is.";
  c.run = &run_status;
  return c;
}

}  // namespace fleet::fleetctl
