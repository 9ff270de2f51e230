#include "api/schema.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

using namespace fleet::api;

TEST_CASE("a unit encodes with fleet's field names and omits empty fields") {
  Unit u;
  u.name = "hello.service";
  u.options = {{"Service", "ExecStart", "/bin/sleep 1"}};
  u.desired_state = "launched";
  u.current_state = "loaded";
  u.machine_id = "abc";
  CHECK(
      encode(u) ==
      R"({"currentState":"loaded","desiredState":"launched","machineID":"abc","name":"hello.service","options":[{"name":"ExecStart","section":"Service","value":"/bin/sleep 1"}]})");
  Unit only_name;
  only_name.name = "x.service";
  CHECK(encode(only_name) == R"({"name":"x.service"})");
  Unit with_reason = only_name;
  with_reason.reason = "no machine matches";
  CHECK(encode(with_reason) == R"({"name":"x.service","reason":"no machine matches"})");
}

TEST_CASE("empty pages encode as an empty object") {
  CHECK(encode(UnitPage{}) == "{}");
  CHECK(encode(UnitStatePage{}) == "{}");
  CHECK(encode(MachinePage{}) == "{}");
  UnitPage p;
  p.next_page_token = "ZAACAA==";
  CHECK(encode(p) == R"({"nextPageToken":"ZAACAA=="})");
}

TEST_CASE("listing pages are written byte for byte as the JSON DOM writes them") {
  const auto dom = [](const auto& v) {
    return nlohmann::json(v).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  };
  fleet::api::UnitPage page;
  for (std::string odd : {std::string("plain"), std::string("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f"),
                          std::string("caf\xc3\xa9"), std::string("bad\xff"), std::string()}) {
    fleet::api::Unit u;
    u.name = "u-" + odd + ".service";
    u.options = {{"Service", "ExecStart", odd}, {"Unit", odd, "x"}};
    u.desired_state = "launched";
    u.current_state = odd.empty() ? "" : "loaded";
    u.machine_id = odd;
    u.reason = odd;
    page.units.push_back(u);
  }
  page.units.emplace_back();  // all empty: {}
  CHECK(fleet::api::encode(page) == dom(page));
  page.next_page_token = "ZAACAA==";
  CHECK(fleet::api::encode(page) == dom(page));
  CHECK(fleet::api::decode_unit_page(fleet::api::encode(page)).value().units.size() == 6);

  fleet::api::UnitStatePage states;
  states.states.push_back({"a.service", "h\n", "m1", "loaded", "active", "running"});
  states.states.push_back({"b\xc3\xa9.service", "", "", "", "", ""});
  states.next_page_token = "t";
  CHECK(fleet::api::encode(states) == dom(states));
  CHECK(fleet::api::encode(fleet::api::UnitStatePage{}) == "{}");
}

TEST_CASE("unit state and machine field names") {
  UnitState s{"a.service", "1c6fb6f", "m1", "loaded", "active", "running"};
  CHECK(
      encode(s) ==
      R"({"hash":"1c6fb6f","machineID":"m1","name":"a.service","systemdActiveState":"active","systemdLoadState":"loaded","systemdSubState":"running"})");
  Machine m;
  m.id = "m1";
  m.primary_ip = "10.0.0.1";
  m.metadata = {{"region", "eu"}};
  CHECK(encode(m) == R"({"id":"m1","metadata":{"region":"eu"},"primaryIP":"10.0.0.1"})");
  m.metadata.clear();
  m.version = "1.0.0";
  CHECK(encode(m) == R"({"id":"m1","primaryIP":"10.0.0.1","version":"1.0.0"})");
}

TEST_CASE("decoding round-trips and tolerates absent, null and unknown fields") {
  auto u = decode_unit(
      R"({"name":"a.service","options":null,"desiredState":"loaded","extra":1,"machineID":null})");
  REQUIRE(u);
  CHECK(u.value().name == "a.service");
  CHECK(u.value().options.empty());
  CHECK(u.value().desired_state == "loaded");
  CHECK(u.value().machine_id.empty());

  UnitPage page;
  page.units.push_back(Unit{"b.service", {{"Unit", "Description", "B"}}, "inactive", "", "", ""});
  page.next_page_token = "tok";
  auto back = decode_unit_page(encode(page));
  REQUIRE(back);
  CHECK(back.value() == page);

  MachinePage mp;
  mp.machines.push_back(Machine{"m", "1.2.3.4", {{"a", "b"}}, "v"});
  auto mback = decode_machine_page(encode(mp));
  REQUIRE(mback);
  CHECK(mback.value() == mp);

  UnitStatePage sp;
  sp.states.push_back(UnitState{"a", "h", "m", "l", "a", "s"});
  auto sback = decode_unit_state_page(encode(sp));
  REQUIRE(sback);
  CHECK(sback.value() == sp);
}

TEST_CASE("malformed JSON and wrong types are errors, not exceptions") {
  CHECK_FALSE(decode_unit("{"));
  CHECK_FALSE(decode_unit("[]"));
  CHECK_FALSE(decode_unit(R"({"name":5})"));
  CHECK_FALSE(decode_unit_page(R"({"units":{}})"));
  auto bad = decode_unit(R"({"options":[1]})");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == fleet::Errc::invalid_argument);
}

TEST_CASE("API errors use fleet's envelope and googleapi's wording") {
  ApiError e{404, "unit does not exist"};
  CHECK(encode(e) == R"({"error":{"code":404,"message":"unit does not exist"}})");
  CHECK(encode(ApiError{500, ""}) == R"({"error":{"code":500,"message":""}})");
  auto back = decode_api_error(encode(e));
  REQUIRE(back);
  CHECK(back.value() == e);
  CHECK(format_api_error(404, "unit does not exist", "") ==
        "googleapi: Error 404: unit does not exist");
  CHECK(format_api_error(500, "", "oops\n") ==
        "googleapi: got HTTP response code 500 with body: oops\n");
  CHECK(errc_for_http_status(404) == fleet::Errc::not_found);
  CHECK(errc_for_http_status(409) == fleet::Errc::conflict);
  CHECK(errc_for_http_status(503) == fleet::Errc::unavailable);
}

TEST_CASE("a unit is global when the last X-Fleet Global value is truthy") {
  CHECK(is_global({{"X-Fleet", "Global", "true"}}));
  CHECK(is_global({{"X-Fleet", "Global", "false"}, {"X-Fleet", "Global", "Yes"}}));
  CHECK_FALSE(is_global({{"X-Fleet", "Global", "true"}, {"X-Fleet", "Global", "no"}}));
  CHECK_FALSE(is_global({{"Service", "Global", "true"}}));
  CHECK_FALSE(is_global({}));
}
