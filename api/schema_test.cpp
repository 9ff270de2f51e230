#include "api/schema.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/utf8.h"

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
                          std::string("caf\xc3\xa9"), std::string("bad\xff"), std::string(),
                          std::string("\n\x01"
                                      "a\xc3\xa9\"b"),
                          std::string("\"x")}) {
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
  // The basic view's members, a global unit and one that is not.
  for (bool global : {true, false}) {
    fleet::api::Unit u;
    u.name = global ? "g.service" : "n.service";
    u.desired_state = "launched";
    u.hash = "0123abcd";
    u.description = global ? "d\"\n" : "";
    u.global = global;
    page.units.push_back(u);
  }
  CHECK(fleet::api::encode(page) == dom(page));
  page.next_page_token = "ZAACAA==";
  CHECK(fleet::api::encode(page) == dom(page));
  const auto decoded = fleet::api::decode_unit_page(fleet::api::encode(page)).value();
  REQUIRE(decoded.units.size() == 10);
  CHECK(decoded.units[8] == page.units[8]);
  CHECK(decoded.units[9] == page.units[9]);
  CHECK(decoded.units[8].global == std::optional<bool>(true));
  CHECK(decoded.units[9].global == std::optional<bool>(false));
  CHECK_FALSE(decoded.units[0].global);
  // With each unit's options encoded beforehand (a server's cache), out of them, or partly.
  std::vector<std::string> encoded;
  for (const auto& u : page.units) encoded.push_back(fleet::api::encode_options(u.options));
  CHECK(encoded.back().empty());  // no options: nothing to splice
  std::vector<std::string_view> views(encoded.begin(), encoded.end());
  fleet::api::UnitPage bare = page;
  for (auto& u : bare.units) u.options.clear();
  CHECK(fleet::api::encode(bare, views) == dom(page));
  views.resize(2);
  fleet::api::UnitPage half = page;
  for (std::size_t i = 0; i < 2; ++i) half.units[i].options.clear();
  CHECK(fleet::api::encode(half, views) == dom(page));

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

// The page decoders read without a DOM (page_reader.cpp); the DOM codecs (from_json) are the
// reference for what every input must give.
template <class Page>
std::optional<Page> through_dom(const std::string& text) {
  try {
    return nlohmann::json::parse(fleet::to_valid_utf8(text)).get<Page>();
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

template <class Page>
void check_like_dom(const std::vector<std::string>& texts,
                    fleet::Result<Page> (*decode)(std::string_view)) {
  for (const auto& text : texts) {
    CAPTURE(text);
    auto dom = through_dom<Page>(text);
    REQUIRE(dom);
    auto page = decode(text);
    REQUIRE(page);
    CHECK(page.value() == *dom);
  }
}

TEST_CASE("listing pages decode as their DOM codecs do") {
  const std::vector<std::string> unit_pages = {
      R"({})",
      R"({"units":null,"nextPageToken":null})",
      R"({"nextPageToken":"t","units":[{"name":"a.service","options":[{"section":"Unit","name":"Description","value":"x\u00e9\"\n"}],"desiredState":"launched","currentState":"launched","machineID":"m","reason":"r"}]})",
      R"({"extra":{"a":[1,{"b":[]}],"c":null},"units":[{"x":[[],{}],"name":"a","options":null,"more":true}],"z":1.5})",
      R"({"units":[{"name":"a","name":"b","options":[{"section":"S","value":null,"extra":{}}],"options":[{"name":"N"}]}],"units":[{"name":"c"}]})",
      "{\"units\":[{\"name\":\"bad\xff\xfe utf8\"}]}",
      R"({"units":[{"name":"\ud83d\ude00 \u0000"}]})",
      R"({"units":[{"name":"a","hash":"h","global":true,"description":"d"},{"global":false},{"global":null}]})",
      // The basic view's members with other types are skipped, as fleet skipped unknown ones.
      R"({"units":[{"name":"a","global":"true","hash":false,"description":{"x":[1]}},{"global":1,"hash":[],"name":"b"},{"hash":"h","global":[true]}]})",
  };
  check_like_dom<UnitPage>(unit_pages, &decode_unit_page);
  check_like_dom<UnitStatePage>(
      {
          R"({"states":[{"name":"a","hash":"h","machineID":"m","systemdLoadState":"loaded","systemdActiveState":"active","systemdSubState":"running","x":[1]}],"nextPageToken":"n"})",
          R"({"states":[],"states":null})",
      },
      &decode_unit_state_page);
}

TEST_CASE("malformed listing pages are errors, as through the DOM") {
  const std::vector<std::string> bad = {
      "",
      "{",
      "[]",
      "5",
      R"({"units":{}})",
      R"({"units":[1]})",
      R"({"units":[null]})",
      R"({"units":[{"name":5}]})",
      R"({"units":[{"options":[[]]}]})",
      R"({"units":[{"options":[{"value":true}]}]})",
      R"({"nextPageToken":[]})",
      R"({"units":[]} x)",
      R"({"units":[{"name":"a"]})",
  };
  for (const auto& text : bad) {
    CAPTURE(text);
    CHECK_FALSE(through_dom<UnitPage>(text));
    auto page = decode_unit_page(text);
    REQUIRE_FALSE(page);
    CHECK(page.error().code == fleet::Errc::invalid_argument);
    CHECK(page.error().message.rfind("invalid UnitPage: ", 0) == 0);
  }
  CHECK(decode_unit_page(R"({"units":[{"name":5}]})").error().message ==
        "invalid UnitPage: [json.exception.type_error.302] type must be string, but is number");
  const auto skipped = decode_unit_page(R"({"units":[{"global":"yes","name":"a"},{"name":"b"}]})");
  REQUIRE(skipped);
  REQUIRE(skipped.value().units.size() == 2);
  CHECK_FALSE(skipped.value().units[0].global);
  CHECK(skipped.value().units[1].name == "b");
  CHECK(decode_unit(R"({"name":"a","global":"yes","hash":5})").value().name == "a");
  CHECK(decode_unit_page("[]").error().message ==
        "invalid UnitPage: [json.exception.type_error.302] UnitPage must be a JSON object");
  CHECK_FALSE(decode_unit_state_page(R"({"states":[{"hash":{}}]})"));
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
  CHECK_FALSE(is_global(std::vector<fleet::api::UnitOption>{}));
  // A unit of the basic view says so itself; one of the full view by its options.
  fleet::api::Unit u;
  u.options = {{"X-Fleet", "Global", "true"}};
  CHECK(is_global(u));
  u.global = false;  // the server's word wins
  CHECK_FALSE(is_global(u));
  u.options.clear();
  u.global = true;
  CHECK(is_global(u));
}
