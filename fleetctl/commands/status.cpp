#include <nlohmann/json.hpp>

#include "fleetctl/command.h"
#include "fleetctl/unit_results.h"

namespace fleet::fleetctl {

namespace {

// Prints the text of `systemctl status -l <unit>` from the unit's machine (served by fleetd's
// /units/<name>/status); returns the remote exit code or 1 on an API error. `machine_id` picks
// the machine of a global unit; `shown_machine` is the machine named in the JSON object.
int print_status(CommandContext& ctx, const std::string& name, const std::string& machine_id,
                 const std::string& shown_machine, bool json) {
  auto st = ctx.api->unit_status(name, machine_id);
  if (!st) {
    ctx.io.err << "Error retrieving status of unit " << name << ": " << st.error().message << "\n";
    return kExitFailure;
  }
  if (json) {
    // One object per unit and machine and line, so a script reads the exit code per unit.
    nlohmann::ordered_json j = {{"name", name},
                                {"machine", shown_machine},
                                {"exit_code", st.value().exit_code},
                                {"status", st.value().text}};
    ctx.io.out << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
  } else {
    ctx.io.out << st.value().text;
  }
  ctx.io.out.flush();
  return st.value().exit_code;
}

// A unit that should run but does not: why (the engine's reason) and what happened to it last
// (its newest events), after fleet's own message so scripts matching that line keep working.
void explain_not_running(CommandContext& ctx, const api::Unit& u) {
  if (!u.reason.empty())
    ctx.io.err << "Unit " << u.name << " cannot be scheduled: " << u.reason << "\n";
  api::EventQuery q;
  q.units = {u.name};
  q.limit = 5;
  std::vector<api::Event> recent;
  auto st = ctx.api->events(q, [&](const api::Event& e) {
    recent.push_back(e);
    return true;
  });
  if (!st || recent.empty()) return;
  ctx.io.err << "Recent events (fleetctl events " << u.name << "):\n";
  for (const auto& e : recent) {
    std::string machine = e.machine.empty() ? "-" : e.machine.substr(0, 8);
    ctx.io.err << "  " << e.time << "  " << e.kind << "  " << machine << "  " << e.reason << "\n";
  }
}

int run(CommandContext& ctx) {
  auto format = result_format(ctx.flags, ctx.io.err);
  if (!format) return kExitFailure;
  const bool json = *format == ResultFormat::json;
  std::vector<std::string> globals;
  bool printed = false;
  for (const auto& arg : ctx.args) {
    std::string name = mangle_unit_name(arg);
    auto got = ctx.api->get_unit(name);
    if (!got) {
      ctx.io.err << "Error retrieving unit: " << got.error().message << "\n";
      return kExitFailure;
    }
    if (!got.value()) {
      ctx.io.err << "Unit " << name << " does not exist.\n";
      return kExitFailure;
    }
    const api::Unit& u = *got.value();
    if (api::is_global(u)) {
      globals.push_back(u.name);
      continue;
    }
    if (u.current_state == api::kStateInactive) {
      ctx.io.err << "Unit " << u.name << " does not appear to be loaded.\n";
      if (u.desired_state != api::kStateInactive) explain_not_running(ctx, u);
      return kExitFailure;
    }
    if (printed && !json) ctx.io.out << "\n";
    printed = true;
    if (int code = print_status(ctx, u.name, {}, u.machine_id, json); code != 0) return code;
  }
  // A global unit: its status on every machine that reports it.
  for (const auto& g : globals) {
    api::StateFilter only;
    only.unit_name = g;
    auto states = ctx.api->list_unit_states(only);
    if (!states) {
      ctx.io.err << "Error retrieving machine state for global units: " << states.error().message
                 << "\n";
      return kExitFailure;
    }
    if (states.value().empty()) {
      ctx.io.err << "Unit " << g << " does not appear to be loaded.\n";
      return kExitFailure;
    }
    for (const auto& s : states.value()) {
      if (printed && !json) ctx.io.out << "\n";
      printed = true;
      if (int code = print_status(ctx, g, s.machine_id, s.machine_id, json); code != 0) return code;
    }
  }
  return kExitOk;
}

}  // namespace

Command status_command() {
  Command c;
  c.name = "status";
  c.usage = "UNIT...";
  c.summary = "Output the status of one or more units in the cluster";
  c.description =
      "Output the status of one or more units currently running in the cluster: the output of "
      "`systemctl status -l <unit>` on the unit's machine, fetched through the fleet API (no SSH "
      "needed). The exit code is that of systemctl.";
  c.flags = {ssh_port_flag()};
  c.flags.back().hidden = true;  // kept for compatibility; status no longer uses SSH
  c.flags.push_back({"format", FlagType::string, "text",
                     "Output format: text (systemctl's output) or json (one object per unit and "
                     "machine and line: name, machine, exit_code, status)."});
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
