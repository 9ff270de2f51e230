#include "fleetctl/flags.h"

#include <doctest/doctest.h>

using namespace fleet::fleetctl;

namespace {
struct Specs {
  FlagSpec full{"full", FlagType::boolean, "", "", 'l', {"l"}};
  FlagSpec lines{"lines", FlagType::integer, "10", "", 'n', {}};
  FlagSpec follow{"follow", FlagType::boolean, "", "", 'f', {"f"}};
  FlagSpec fields{"fields", FlagType::string, "unit", ""};
  FlagSpec strict{"strict", FlagType::boolean, "true", ""};
  std::vector<const FlagSpec*> all() { return {&full, &lines, &follow, &fields, &strict}; }
};
}  // namespace

TEST_CASE("long flags, values and defaults") {
  Specs s;
  auto r = parse_args(s.all(), {"--lines=5", "a", "--fields", "x,y", "b", "--full"});
  REQUIRE(r);
  CHECK(r.value().flags.integer("lines") == 5);
  CHECK(r.value().flags.str("fields") == "x,y");
  CHECK(r.value().flags.boolean("full"));
  CHECK_FALSE(r.value().flags.boolean("follow"));
  CHECK(r.value().flags.boolean("strict"));
  CHECK(r.value().positional == std::vector<std::string>{"a", "b"});
  auto off = parse_args(s.all(), {"--strict=false"});
  REQUIRE(off);
  CHECK_FALSE(off.value().flags.boolean("strict"));
}

TEST_CASE("fleet's single-letter long names and real short flags both work") {
  Specs s;
  for (const auto& args : {std::vector<std::string>{"--l"}, {"-l"}}) {
    auto r = parse_args(s.all(), args);
    REQUIRE(r);
    CHECK(r.value().flags.boolean("full"));
  }
  auto combined = parse_args(s.all(), {"-lf", "-n3"});
  REQUIRE(combined);
  CHECK(combined.value().flags.boolean("full"));
  CHECK(combined.value().flags.boolean("follow"));
  CHECK(combined.value().flags.integer("lines") == 3);
  auto separate = parse_args(s.all(), {"-n", "7"});
  REQUIRE(separate);
  CHECK(separate.value().flags.integer("lines") == 7);
}

TEST_CASE("a double dash ends the flags") {
  Specs s;
  auto r = parse_args(s.all(), {"a", "--", "--full", "-l"});
  REQUIRE(r);
  CHECK_FALSE(r.value().flags.boolean("full"));
  CHECK(r.value().positional == std::vector<std::string>{"a", "--full", "-l"});
}

TEST_CASE("without interspersing, flags end at the first argument") {
  Specs s;
  auto r = parse_args(s.all(), {"--full", "host", "ls", "-l"}, false);
  REQUIRE(r);
  CHECK(r.value().flags.boolean("full"));
  CHECK(r.value().positional == std::vector<std::string>{"host", "ls", "-l"});
}

TEST_CASE("flag errors use pflag's wording") {
  Specs s;
  auto check = [&](std::vector<std::string> args, std::string msg) {
    auto r = parse_args(s.all(), args);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == msg);
  };
  check({"--bogus"}, "unknown flag: --bogus");
  check({"-x"}, "unknown shorthand flag: 'x' in -x");
  check({"-lx"}, "unknown shorthand flag: 'x' in -lx");
  check({"--lines"}, "flag needs an argument: --lines");
  check({"-n"}, "flag needs an argument: 'n' in -n");
  check({"--lines=abc"},
        "invalid argument \"abc\" for \"--lines\" flag: strconv.ParseInt: parsing \"abc\": "
        "invalid syntax");
  check({"--full=maybe"},
        "invalid argument \"maybe\" for \"--full\" flag: strconv.ParseBool: parsing \"maybe\": "
        "invalid syntax");
}
