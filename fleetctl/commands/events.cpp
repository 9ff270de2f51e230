// fleetctl events: what the cluster decided and saw, and why (GET /fleet/v1/events).
#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>

#include "fleetctl/command.h"
#include "fleetctl/duration.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

namespace {

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// --since: a duration back from now ("10m") or an RFC 3339 UTC time, passed on as it is.
Result<std::string> since_time(const std::string& text) {
  if (text.empty()) return std::string();
  if (text.find('T') != std::string::npos) return text;
  auto d = parse_duration(text);
  if (!d) return d.error();
  return rfc3339(std::chrono::system_clock::now() - d.value());
}

std::string pad(std::string s, std::size_t width) {
  if (s.size() < width) s.resize(width, ' ');
  return s;
}

int run(CommandContext& ctx) {
  api::EventQuery q;
  for (const auto& a : ctx.args) q.units.push_back(mangle_unit_name(a));
  q.machine = ctx.flags.str("machine");
  q.follow = ctx.flags.boolean("follow");
  const auto lines = ctx.flags.integer("lines");
  if (lines < 0) {
    ctx.io.err << "--lines must be 0 (all) or more\n";
    return kExitFailure;
  }
  q.limit = static_cast<std::size_t>(lines);
  auto since = since_time(ctx.flags.str("since"));
  if (!since) {
    ctx.io.err << "Error: --since: " << since.error().message << "\n";
    return kExitFailure;
  }
  q.since = since.value();
  const std::string format = ctx.flags.str("format");
  if (format != "text" && format != "json") {
    ctx.io.err << "Error: --format must be text or json\n";
    return kExitFailure;
  }
  const bool full = ctx.flags.boolean("full");
  auto st = ctx.api->events(q, [&](const api::Event& e) {
    if (format == "json") {
      nlohmann::json j{{"position", e.position}, {"time", e.time},       {"kind", e.kind},
                       {"unit", e.unit},         {"machine", e.machine}, {"reason", e.reason}};
      ctx.io.out << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
      std::string machine = e.machine.empty() ? "-" : e.machine;
      if (!full && machine.size() > 8) machine = machine.substr(0, 8) + "...";
      ctx.io.out << e.time << "  " << pad(e.kind, 13) << " "
                 << pad(e.unit.empty() ? "-" : e.unit, 24) << " " << pad(machine, 11) << " "
                 << e.reason << "\n";
    }
    ctx.io.out.flush();  // a follow is read as it happens, also through a pipe
    return static_cast<bool>(ctx.io.out);
  });
  if (!st) {
    ctx.io.err << "Error retrieving events: " << st.error().message << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace

Command events_command() {
  Command c;
  c.name = "events";
  c.usage =
      "[--follow|-f] [--since=DURATION|TIME] [--machine=ID] [--lines=N] [--full] "
      "[--format=text|json] [UNIT...]";
  c.summary = "Print what the cluster decided and observed about units and machines";
  c.description =
      "Lists the cluster's events, oldest first: units submitted, destroyed and their desired "
      "state changed, scheduled to a machine and why, unscheduled (machine lost, drain, "
      "conflict), not schedulable, started, failed and stopped; machines joining, leaving and "
      "being cordoned; engine leader changes.\n\nWhere did web@1 run, and why did it move?\n\t"
      "fleetctl events web@1.service\n\nFollow everything that happens on one machine:\n\t"
      "fleetctl events -f --machine=2f1a9c3e\n\nThe last hour as JSON lines:\n\t"
      "fleetctl events --since=1h --lines=0 --format=json";
  FlagSpec follow{"follow", FlagType::boolean, "", "Keep printing new events as they happen."};
  follow.shorthand = 'f';
  follow.aliases = {"f"};
  c.flags = {
      follow,
      {"since", FlagType::string, "",
       "Only events since this long ago (10m, 2h) or this RFC 3339 UTC time."},
      {"machine", FlagType::string, "", "Only events of the machine with this ID (or prefix)."},
      {"lines", FlagType::integer, "100", "Print at most the newest N past events; 0: all."},
      {"full", FlagType::boolean, "", "Do not shorten machine IDs."},
      {"format", FlagType::string, "text", "text, or json: one JSON object per line."},
  };
  c.unit_args = true;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
