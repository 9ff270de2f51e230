#include "agent/fake_unit_manager.h"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <optional>

using fleet::Errc;
using fleet::agent::FakeUnitManager;
using fleet::agent::Task;
using fleet::agent::UnitStatus;

namespace {

// Runs one operation to completion on its own loop (the fake never suspends for long).
template <class T>
T sync(Task<T> t) {
  boost::asio::io_context io;
  std::optional<T> out;
  // Result has no default constructor, which co_spawn's value handler needs: store it here.
  auto body = [&](Task<T> task) -> Task<void> { out.emplace(co_await std::move(task)); };
  boost::asio::co_spawn(io, body(std::move(t)), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  REQUIRE(out.has_value());
  return std::move(*out);
}

UnitStatus one(FakeUnitManager& m, const std::string& name) {
  auto r = sync(m.list({name}));
  REQUIRE(r.has_value());
  REQUIRE(r.value().size() == 1);
  return r.value()[0];
}

const std::string kUnit = "[Service]\nExecStart=/bin/sleep 600\n";

}  // namespace

TEST_CASE("a loaded unit is loaded/inactive/dead and starts to active/running") {
  FakeUnitManager m;
  std::vector<UnitStatus> seen;
  m.on_state_change([&](const UnitStatus& s) { seen.push_back(s); });
  REQUIRE(sync(m.load({{"a.service", kUnit}, {"b.service", kUnit}})).has_value());
  CHECK(m.reloads() == 1);
  CHECK(m.files_on_disk() == std::vector<std::string>{"a.service", "b.service"});
  CHECK(one(m, "a.service") == UnitStatus{"a.service", "loaded", "inactive", "dead", 0});
  REQUIRE(sync(m.start({"a.service"})).has_value());
  auto a = one(m, "a.service");
  CHECK(a.active_state == "active");
  CHECK(a.sub_state == "running");
  CHECK(a.main_pid != 0);
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().name == "a.service");
  CHECK(seen.back().active_state == "active");
  REQUIRE(sync(m.stop({"a.service"})).has_value());
  CHECK(one(m, "a.service") == UnitStatus{"a.service", "loaded", "inactive", "dead", 0});
  CHECK(seen.back().active_state == "inactive");
}

TEST_CASE("unknown names are not-found in list and an error for start and stop") {
  FakeUnitManager m;
  CHECK(one(m, "nope.service") == fleet::agent::not_found_status("nope.service"));
  auto st = sync(m.start({"nope.service"}));
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().code == Errc::not_found);
  CHECK(st.error().message.find("nope.service") != std::string::npos);
  CHECK_FALSE(sync(m.stop({"nope.service"})).has_value());
}

TEST_CASE("a batch with one missing unit still starts the others") {
  FakeUnitManager m;
  REQUIRE(sync(m.load({{"a.service", kUnit}})).has_value());
  auto st = sync(m.start({"missing.service", "a.service"}));
  CHECK_FALSE(st.has_value());
  CHECK(one(m, "a.service").active_state == "active");
}

TEST_CASE("a unit whose process exits starts ok and then reports failed/failed") {
  FakeUnitManager m;
  m.set_failure("bad.service", FakeUnitManager::Failure::process_exits);
  std::vector<std::string> states;
  m.on_state_change(
      [&](const UnitStatus& s) { states.push_back(s.active_state + "/" + s.sub_state); });
  REQUIRE(sync(m.load({{"bad.service", kUnit}})).has_value());
  CHECK(sync(m.start({"bad.service"})).has_value());
  CHECK(one(m, "bad.service").active_state == "failed");
  CHECK(one(m, "bad.service").sub_state == "failed");
  CHECK(states.back() == "failed/failed");
  // Stopping keeps it failed; unloading clears it.
  CHECK(sync(m.stop({"bad.service"})).has_value());
  CHECK(one(m, "bad.service").active_state == "failed");
  CHECK(sync(m.unload({"bad.service"})).has_value());
  CHECK(one(m, "bad.service").load_state == "not-found");
}

TEST_CASE("a failing start job is an error and leaves the unit failed") {
  FakeUnitManager m;
  m.set_failure("once.service", FakeUnitManager::Failure::job_fails);
  REQUIRE(sync(m.load({{"once.service", kUnit}})).has_value());
  auto st = sync(m.start({"once.service"}));
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().code == Errc::internal);
  CHECK(one(m, "once.service").active_state == "failed");
  // After the failure is cleared, a new start brings it up.
  m.set_failure("once.service", FakeUnitManager::Failure::none);
  CHECK(sync(m.start({"once.service"})).has_value());
  CHECK(one(m, "once.service").active_state == "active");
}

TEST_CASE("unload stops, forgets and is idempotent, with one reload per batch") {
  FakeUnitManager m;
  REQUIRE(sync(m.load({{"a.service", kUnit}, {"b.service", kUnit}})).has_value());
  REQUIRE(sync(m.start({"a.service", "b.service"})).has_value());
  CHECK(sync(m.unload({"a.service", "b.service", "never.service"})).has_value());
  CHECK(m.reloads() == 2);
  CHECK(m.files_on_disk().empty());
  CHECK(one(m, "a.service").load_state == "not-found");
  CHECK(sync(m.unload({"a.service"})).has_value());
}

TEST_CASE("bad names are rejected before anything is written") {
  FakeUnitManager m;
  for (const char* bad : {"", "../x.service", "a/b.service", "noext", ".service", "a b.service"}) {
    auto st = sync(m.load({{"ok.service", kUnit}, {bad, kUnit}}));
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().code == Errc::invalid_argument);
  }
  CHECK(m.files_on_disk().empty());
  CHECK(m.reloads() == 0);
  CHECK(fleet::agent::check_unit_name("web@1.service").has_value());
  CHECK(fleet::agent::check_unit_name("x.timer").has_value());
}

TEST_CASE("reloading new content keeps a running unit running") {
  FakeUnitManager m;
  REQUIRE(sync(m.load({{"a.service", kUnit}})).has_value());
  REQUIRE(sync(m.start({"a.service"})).has_value());
  REQUIRE(sync(m.load({{"a.service", "[Service]\nExecStart=/bin/true\n"}})).has_value());
  CHECK(m.content("a.service") == "[Service]\nExecStart=/bin/true\n");
  CHECK(one(m, "a.service").active_state == "active");
}

TEST_CASE("files left on disk are adopted and an empty list means all tracked units") {
  FakeUnitManager m({{"old.service", kUnit}, {"older.service", kUnit}});
  CHECK(m.files_on_disk() == std::vector<std::string>{"old.service", "older.service"});
  auto all = sync(m.list({}));
  REQUIRE(all.has_value());
  REQUIRE(all.value().size() == 2);
  CHECK(all.value()[0].load_state == "loaded");
}

TEST_CASE("external changes reach the callback and an unavailable manager fails everything") {
  FakeUnitManager m;
  REQUIRE(sync(m.load({{"a.service", kUnit}})).has_value());
  REQUIRE(sync(m.start({"a.service"})).has_value());
  std::vector<UnitStatus> seen;
  m.on_state_change([&](const UnitStatus& s) { seen.push_back(s); });
  CHECK(m.set_state("a.service", "failed", "failed"));
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].active_state == "failed");
  CHECK(seen[0].main_pid == 0);
  CHECK_FALSE(m.set_state("zzz.service", "active", "running"));
  m.set_unavailable(true);
  auto l = sync(m.list({"a.service"}));
  REQUIRE_FALSE(l.has_value());
  CHECK(l.error().code == Errc::unavailable);
  CHECK(sync(m.start({"a.service"})).error().code == Errc::unavailable);
}
