#include <doctest/doctest.h>

#include "fleetctl/unit_source.h"

using namespace fleet::fleetctl;
using fleet::api::UnitOption;

TEST_CASE("parsing keeps options in order and drops comments and text before sections") {
  auto r = parse_unit_text(
      "This=Ignored\n# comment\n[Unit]\nDescription = Foo \n; c\n\n[Service]\nExecStart=/bin/x\n"
      "ExecStart=/bin/y\n");
  REQUIRE(r);
  CHECK(r.value() == Options{{"Unit", "Description", "Foo"},
                             {"Service", "ExecStart", "/bin/x"},
                             {"Service", "ExecStart", "/bin/y"}});
}

TEST_CASE("continuation lines keep backslashes and newlines") {
  auto r = parse_unit_text("[Service]\nExecStart=echo \\\n  \"pi\\\n  ng\"\nA=b\n");
  REQUIRE(r);
  CHECK(r.value().at(0).value == "echo \\\n  \"pi\\\n  ng\"");
  CHECK(r.value().at(1).name == "A");
}

TEST_CASE("parse errors name the line") {
  auto nl = parse_unit_text("[Unit]\nDescription=x\nnonsense\nA=b\n");
  REQUIRE_FALSE(nl);
  CHECK(nl.error().message == "line 3: unexpected newline encountered while parsing option name");
  auto eof = parse_unit_text("[Unit]\nnonsense upon stilts");
  REQUIRE_FALSE(eof);
  CHECK(eof.error().message == "line 2: unexpected end of file while parsing option name");
  auto section = parse_unit_text("[Unit\nA=b\n");
  REQUIRE_FALSE(section);
  CHECK(section.error().message == "line 1: unable to find end of section");
  auto garbage = parse_unit_text("[Unit] x\n");
  REQUIRE_FALSE(garbage);
  CHECK(garbage.error().message == "line 1: found garbage after section name \"Unit\": \"x\"");
  auto longline = parse_unit_text("[Unit]\nA=" + std::string(2100, 'x') + "\n");
  REQUIRE_FALSE(longline);
  CHECK(longline.error().message == "line 2: line too long (max 2048 bytes)");
}

TEST_CASE("serialization and hash match fleet's") {
  Options o = {{"Service", "ExecStart", "/bin/sleep 100"}};
  CHECK(serialize_unit(o) == "[Service]\nExecStart=/bin/sleep 100\n");
  CHECK(unit_hash(o) == "1c6fb6f3684bafb0c173d8b8b957ceff031180c1");
  CHECK(unit_hash({}) == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(serialize_unit({{"Unit", "Description", "Foo"},
                        {"Service", "ExecStart", "/bin/x"},
                        {"Unit", "After", "a"}}) ==
        "[Unit]\nDescription=Foo\nAfter=a\n\n[Service]\nExecStart=/bin/x\n");
}

TEST_CASE("unit names are validated in fleet's order with its messages") {
  auto msg = [](std::string_view n) {
    auto st = validate_unit_name(n);
    return st ? std::string() : st.error().message;
  };
  CHECK(msg("hello.service").empty());
  CHECK(msg("yes@no\\.service").empty());
  CHECK(msg("") == "unit name cannot be empty");
  CHECK(msg(std::string(257, 'a')) == "unit name exceeds maximum length (256)");
  CHECK(msg("foo") == "unit name must contain \".\"");
  CHECK(msg("foo.") == "unit name cannot end in \".\"");
  CHECK(msg("foo.servICE") == "invalid unit type: \"servICE\"");
  CHECK(msg("foo@1.mount") == "invalid unit type for template: \"mount\"");
  CHECK(msg("foo bar.service") == "invalid character ' ' in unit name");
  CHECK(msg("@foo.service") == "unit name cannot start in \"@\"");
}

TEST_CASE("name decomposition and mangling") {
  auto i = unit_name_info("foo@bar@baz.service");
  REQUIRE(i);
  CHECK(i->prefix == "foo");
  CHECK(i->template_name == "foo@.service");
  CHECK(i->instance == "bar@baz");
  CHECK(i->is_instance());
  CHECK(unit_name_info("ssh@.socket")->is_template());
  CHECK_FALSE(unit_name_info("nodot"));
  CHECK(mangle_unit_name("foo") == "foo.service");
  CHECK(mangle_unit_name("foo.1") == "foo.1.service");
  CHECK(mangle_unit_name("dir/bar.socket") == "bar.socket");
  CHECK(mangle_unit_name("x.target") == "x.target.service");
}

TEST_CASE("option validation rejects fleet's unresolvable combinations") {
  auto msg = [](Options o) {
    auto st = validate_unit_options(o);
    return st ? std::string() : st.error().message;
  };
  CHECK(msg({{"X-Fleet", "MachineOf", "a.service"}, {"X-Fleet", "Conflicts", "b.service a.*"}}) ==
        "unresolvable requirements: peer \"a.service\" matches conflict \"a.*\"");
  CHECK(msg({{"X-Fleet", "MachineOf", "a.service"}, {"X-Fleet", "Replaces", "a.service"}}) ==
        "unresolvable requirements: peer \"a.service\" matches replace \"a.service\"");
  CHECK(msg({{"X-Fleet", "MachineID", "abc"}, {"X-Fleet", "MachineOf", "a.service"}}) ==
        "MachineID cannot be used with Peers");
  CHECK(msg({{"X-Fleet", "MachineID", "abc"}, {"X-Fleet", "Global", "true"}}) ==
        "MachineID cannot be used with Global");
  CHECK(msg({{"X-Fleet", "Global", "true"}, {"X-Fleet", "MachineOf", "a.service"}}) ==
        "Global cannot be used with Peers");
  CHECK(msg({{"X-Fleet", "Conflicts", "a.service"}, {"X-Fleet", "Replaces", "b.service"}}) ==
        "Conflicts cannot be used with Replaces");
  CHECK(msg({{"X-Fleet", "Global", "true"}, {"X-Fleet", "Conflicts", "a.service"}}).empty());
  CHECK(msg({{"X-Fleet", "MachineID", "abc"}, {"X-Fleet", "MachineMetadata", "a=b"}}).empty());
}

TEST_CASE("unknown X-Fleet keys are listed once") {
  CHECK(unknown_xfleet_keys({{"X-Fleet", "Foo", "1"},
                             {"X-Fleet", "MachineOf", "x"},
                             {"X-Fleet", "Foo", "2"},
                             {"Service", "Bar", "3"}}) == std::vector<std::string>{"Foo"});
}
