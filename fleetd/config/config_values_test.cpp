#include "fleetd/config/config_values.h"

#include <doctest/doctest.h>

using namespace fleet::fleetd;
using namespace std::chrono_literals;

TEST_CASE("Go durations parse like time.ParseDuration") {
  CHECK(parse_go_duration("30s").value() == 30s);
  CHECK(parse_go_duration("1m30s").value() == 90s);
  CHECK(parse_go_duration("500ms").value() == 500ms);
  CHECK(parse_go_duration("1.5h").value() == 90min);
  CHECK(parse_go_duration("2h45m").value() == 165min);
  CHECK(parse_go_duration("0").value() == 0s);
  CHECK(parse_go_duration("-2s").value() == -2s);
  CHECK(parse_go_duration("+2s").value() == 2s);
  CHECK(parse_go_duration("10us").value() == 10us);
  CHECK(parse_go_duration("10\xC2\xB5s").value() == 10us);
  CHECK(parse_go_duration("7ns").value() == 7ns);
  CHECK(parse_go_duration(".5s").value() == 500ms);
  CHECK(parse_go_duration("1.s").value() == 1s);
}

TEST_CASE("malformed Go durations are refused with a hint") {
  for (const char* bad : {"", "30", "abc", "s", "1x", "1.5", "--1s", ".s", "1s2", " 1s"}) {
    CAPTURE(bad);
    auto r = parse_go_duration(bad);
    REQUIRE(r.has_error());
    CHECK(r.error().message.find("expected a duration like 30s") == 0);
  }
  CHECK(parse_go_duration("30").error().message.find("missing unit") != std::string::npos);
  CHECK(parse_go_duration("3y").error().message.find("unknown unit") != std::string::npos);
  CHECK(parse_go_duration("9999999999999h").error().message.find("out of range") !=
        std::string::npos);
}

TEST_CASE("a config duration is trimmed, rounded to milliseconds and never negative") {
  CHECK(parse_duration(" 30s ").value() == 30s);
  CHECK(parse_duration("1500us").value() == 1ms);
  CHECK(parse_duration("-1s").has_error());
}

TEST_CASE("seconds accept fleet's floats and Go durations") {
  CHECK(parse_seconds("1.0").value() == 1s);
  CHECK(parse_seconds("2").value() == 2s);
  CHECK(parse_seconds("0.25").value() == 250ms);
  CHECK(parse_seconds("750ms").value() == 750ms);
  CHECK(parse_seconds("-1").has_error());
  CHECK(parse_seconds("nan").has_error());
  CHECK(parse_seconds("two").error().message.find("number of seconds") != std::string::npos);
}

TEST_CASE("integers and booleans are strict") {
  CHECK(parse_int("42").value() == 42);
  CHECK(parse_int("+7").value() == 7);
  CHECK(parse_int("-3").value() == -3);
  CHECK(parse_int("4x").has_error());
  CHECK(parse_int("").has_error());
  CHECK(parse_int("99999999999").has_error());
  for (const char* t : {"1", "t", "TRUE", "yes", "on", "Y"}) CHECK(parse_bool(t).value());
  for (const char* f : {"0", "f", "False", "no", "off", "N"}) CHECK_FALSE(parse_bool(f).value());
  CHECK(parse_bool("maybe").error().message == "expected true or false");
  CHECK(parse_bool("").has_error());
}

TEST_CASE("lists follow fleet's etcd_servers rule") {
  CHECK(parse_list("http://a:1,http://b:2") ==
        std::vector<std::string>{"http://a:1", "http://b:2"});
  CHECK(parse_list("[\"http://a:1\", \"http://b:2\"]") ==
        std::vector<std::string>{"http://a:1", "http://b:2"});
  CHECK(parse_list(" a , ,b,").size() == 2);
  CHECK(parse_list("").empty());
}

TEST_CASE("metadata is key=value pairs, a pair without '=' is refused") {
  auto m = parse_metadata(" region = us-west ,disk=ssd,region=eu,").value();
  CHECK(m.size() == 2);
  CHECK(m.at("region") == "eu");
  CHECK(m.at("disk") == "ssd");
  CHECK(parse_metadata("a=b=c").value().at("a") == "b=c");
  CHECK(parse_metadata("").value().empty());
  auto bad = parse_metadata("region=us,ssd");
  REQUIRE(bad.has_error());
  CHECK(bad.error().message.find("\"ssd\"") != std::string::npos);
  CHECK(parse_metadata("=x").has_error());
}

TEST_CASE("durations and seconds format the way they are written") {
  CHECK(format_duration(30s) == "30s");
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(500ms) == "500ms");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(1h) == "1h0m0s");
  CHECK(format_duration(0s) == "0s");
  CHECK(format_seconds(2s) == "2");
  CHECK(format_seconds(1250ms) == "1.25");
  CHECK(format_seconds(50ms) == "0.05");
}
