#include "api/fake_client.h"

#include <doctest/doctest.h>

using namespace fleet::api;

namespace {
Unit service(std::string name, std::vector<UnitOption> extra = {}) {
  Unit u;
  u.name = std::move(name);
  u.options = {{"Service", "ExecStart", "/bin/sleep 100"}};
  for (auto& o : extra) u.options.push_back(o);
  return u;
}
}  // namespace

TEST_CASE("fake: creating a unit needs options and starts inactive") {
  FakeApiClient api;
  Unit empty;
  empty.name = "a.service";
  auto st = api.create_unit(empty);
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "googleapi: Error 409: unit does not exist and options field empty");
  REQUIRE(api.create_unit(service("a.service")));
  auto got = api.get_unit("a.service");
  REQUIRE(got);
  REQUIRE(got.value().has_value());
  CHECK(got.value()->desired_state == "inactive");
  CHECK(got.value()->current_state == "inactive");
  CHECK(api.get_unit("missing.service").value() == std::nullopt);
}

TEST_CASE("fake: instant convergence places the unit and publishes its state") {
  FakeApiClient api;
  api.add_machine(Machine{"m2", "10.0.0.2", {}, ""});
  api.add_machine(Machine{"m1", "10.0.0.1", {}, ""});
  REQUIRE(api.create_unit(service("a.service")));
  REQUIRE(api.set_desired_state("a.service", "launched"));
  auto u = api.unit("a.service").value();
  CHECK(u.current_state == "launched");
  CHECK(u.machine_id == "m1");
  auto states = api.list_unit_states({}).value();
  REQUIRE(states.size() == 1);
  CHECK(states[0].systemd_active_state == "active");
  REQUIRE(api.set_desired_state("a.service", "inactive"));
  CHECK(api.list_unit_states({}).value().empty());
  CHECK(api.unit("a.service")->machine_id.empty());
}

TEST_CASE("fake: manual convergence leaves the current state to the test") {
  FakeApiClient api;
  api.set_converge(FakeApiClient::Converge::manual);
  api.add_machine(Machine{"m1", "10.0.0.1", {}, ""});
  REQUIRE(api.create_unit(service("a.service")));
  REQUIRE(api.set_desired_state("a.service", "loaded"));
  CHECK(api.unit("a.service")->current_state == "inactive");
  api.set_current_state("a.service", "loaded", "m1");
  CHECK(api.unit("a.service")->current_state == "loaded");
  CHECK(api.unit("a.service")->machine_id == "m1");
}

TEST_CASE("fake: server rules for desired state updates") {
  FakeApiClient api;
  REQUIRE(api.create_unit(service("t@.service")));
  auto tmpl = api.set_desired_state("t@.service", "launched");
  REQUIRE_FALSE(tmpl);
  CHECK(tmpl.error().message == "googleapi: Error 400: cannot activate template \"t@.service\"");
  auto bad = api.set_desired_state("t@.service", "running");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message == "googleapi: Error 400: invalid value \"running\" for JobState");
  auto gone = api.destroy_unit("nope.service");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == fleet::Errc::not_found);
}

TEST_CASE("fake: global units have no current state in GET but inactive in the list") {
  FakeApiClient api;
  api.add_machine(Machine{"m1", "", {}, ""});
  api.add_machine(Machine{"m2", "", {}, ""});
  REQUIRE(api.create_unit(service("g.service", {{"X-Fleet", "Global", "true"}})));
  REQUIRE(api.set_desired_state("g.service", "launched"));
  CHECK(api.unit("g.service")->current_state.empty());
  CHECK(api.list_units().value().at(0).current_state == "inactive");
  CHECK(api.list_unit_states({}).value().size() == 2);
  CHECK(api.list_unit_states({"m2", ""}).value().size() == 1);
}

TEST_CASE("fake: unschedulable units report a reason and stay unplaced") {
  FakeApiClient api;
  api.add_machine(Machine{"m1", "", {}, ""});
  REQUIRE(api.create_unit(service("a.service")));
  api.set_unschedulable("a.service", "no machine has metadata region=us");
  REQUIRE(api.set_desired_state("a.service", "launched"));
  auto u = api.unit("a.service").value();
  CHECK(u.current_state == "inactive");
  CHECK(u.reason == "no machine has metadata region=us");
}

TEST_CASE("fake: injected failures") {
  FakeApiClient api;
  api.set_failure("list_machines", fleet::Error{fleet::Errc::unavailable, "boom"});
  auto r = api.list_machines();
  REQUIRE_FALSE(r);
  CHECK(r.error().message == "boom");
  api.clear_failure("list_machines");
  CHECK(api.list_machines());
}
