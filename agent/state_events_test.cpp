#include "agent/state_events.h"

#include <doctest/doctest.h>

using fleet::agent::state_event;
using fleet::registry::UnitStateRecord;

namespace {
UnitStateRecord st(std::string active, std::string sub) {
  return {"a.service", "m1", "h", "loaded", std::move(active), std::move(sub)};
}
}  // namespace

TEST_CASE("unit state transitions that are events, and those that are not") {
  struct Row {
    std::optional<UnitStateRecord> before;
    UnitStateRecord now;
    std::string kind;  // "" = no event
    std::string reason;
  };
  const std::vector<Row> rows = {
      {std::nullopt, st("active", "running"), "started", "systemd: active (running)"},
      {st("activating", "start"), st("active", "exited"), "started", "systemd: active (exited)"},
      {st("active", "running"), st("failed", "failed"), "failed", "systemd: failed (failed)"},
      {std::nullopt, st("failed", "failed"), "failed", "systemd: failed (failed)"},
      {st("active", "running"), st("inactive", "dead"), "stopped", "systemd: inactive (dead)"},
      {std::nullopt, st("inactive", "dead"), "", ""},               // loaded, never ran
      {st("inactive", "dead"), st("activating", "start"), "", ""},  // not yet
      {st("active", "running"), st("active", "reload"), "", ""},    // same active state
      {st("failed", "failed"), st("inactive", "dead"), "", ""},     // reset, not a stop
  };
  for (const auto& r : rows) {
    CAPTURE(r.now.active_state);
    auto e = state_event(r.before ? &*r.before : nullptr, r.now);
    if (r.kind.empty()) {
      CHECK_FALSE(e);
      continue;
    }
    REQUIRE(e);
    CHECK(e->kind == r.kind);
    CHECK(e->reason == r.reason);
    CHECK(e->unit == "a.service");
    CHECK(e->machine == "m1");
  }
}
