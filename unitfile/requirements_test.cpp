#include "unitfile/requirements.h"

#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fleet::unitfile {
namespace {

using Strings = std::vector<std::string>;

UnitFile xfleet(const std::string& body) {
  auto r = UnitFile::parse("[Service]\nExecStart=/bin/true\n\n[X-Fleet]\n" + body);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return r.value();
}

Requirements reqs(const std::string& body, std::string_view name = "foo.service") {
  return requirements_of(xfleet(body), name);
}

TEST_CASE("a unit without X-Fleet has no requirements") {
  auto r = requirements_of(UnitFile(), "foo.service");
  CHECK(r.machine_id.empty());
  CHECK_FALSE(r.has_machine_id);
  CHECK(r.peers.empty());
  CHECK(r.metadata.empty());
  CHECK(r.conflicts.empty());
  CHECK(r.replaces.empty());
  CHECK_FALSE(r.global);
  CHECK(r.unknown_keys.empty());
}

TEST_CASE("MachineID uses the first value and prefers the modern key over its aliases") {
  CHECK(reqs("MachineID=abc\nMachineID=def\n").machine_id == "abc");
  CHECK(
      reqs("X-ConditionMachineBootID=boot\nX-ConditionMachineID=old\nMachineID=new\n").machine_id ==
      "new");
  CHECK(reqs("X-ConditionMachineBootID=boot\nX-ConditionMachineID=old\n").machine_id == "old");
  CHECK(reqs("X-ConditionMachineBootID=boot\n").machine_id == "boot");
  CHECK(reqs("MachineID=\"a\" \"b\"\n").machine_id == "a");
  auto empty = reqs("MachineID=\n");
  CHECK(empty.has_machine_id);
  CHECK(empty.machine_id.empty());
}

TEST_CASE("MachineOf collects alias values first and does not split on white space") {
  auto r = reqs("MachineOf=b.service\nX-ConditionMachineOf=a.service\nMachineOf=c d.service\n");
  CHECK(r.peers == Strings{"a.service", "b.service", "c d.service"});
  CHECK(reqs("MachineOf=\"x.service\" \"y.service\"\n").peers == Strings{"x.service", "y.service"});
  CHECK(reqs("MachineOf=x.service\nMachineOf=x.service\n").peers == Strings{"x.service"});
}

TEST_CASE("MachineMetadata keeps only exact key=value pairs") {
  auto r = reqs(
      "X-ConditionMachineMetadata=region=us\nMachineMetadata=region=eu\n"
      "MachineMetadata=\"disk=ssd\" \"disk=hdd\"\nMachineMetadata=a=b=c\nMachineMetadata==x\n"
      "MachineMetadata=y=\nMachineMetadata=noequals\nMachineMetadata= sp = ace \n");
  // The parser trims " sp = ace " to "sp = ace"; the split itself does not trim.
  std::map<std::string, std::set<std::string>> want = {
      {"region", {"us", "eu"}}, {"disk", {"ssd", "hdd"}}, {"sp ", {" ace"}}};
  CHECK(r.metadata == want);
}

TEST_CASE("Conflicts are split on white space, alias first, deduplicated") {
  auto r = reqs(
      "Conflicts=b.service  c.service\nX-Conflicts=a.service\nConflicts=\"d*.service\" "
      "\"e.service f.service\"\nConflicts=a.service\n");
  CHECK(r.conflicts ==
        Strings{"a.service", "b.service", "c.service", "d*.service", "e.service", "f.service"});
}

TEST_CASE("Replaces are not split on white space") {
  CHECK(reqs("Replaces=a.service b.service\nReplaces=a.service b.service\n").replaces ==
        Strings{"a.service b.service"});
}

TEST_CASE("Global follows its last value's truthiness") {
  CHECK(reqs("Global=true\n").global);
  CHECK(reqs("Global=YES\n").global);
  CHECK(reqs("Global=1\n").global);
  CHECK(reqs("Global=on\n").global);
  CHECK(reqs("Global=t\n").global);
  CHECK_FALSE(reqs("Global=false\n").global);
  CHECK_FALSE(reqs("Global=true\nGlobal=no\n").global);
  CHECK(reqs("Global=no\nGlobal=true\n").global);
  CHECK_FALSE(reqs("Global=\n").global);
  CHECK_FALSE(reqs("Global=maybe\n").global);
}

TEST_CASE("StopOnDisconnect follows its last value's truthiness and is a known key") {
  CHECK_FALSE(reqs("").stop_on_disconnect);
  CHECK(reqs("StopOnDisconnect=true\n").stop_on_disconnect);
  CHECK_FALSE(reqs("StopOnDisconnect=true\nStopOnDisconnect=no\n").stop_on_disconnect);
  CHECK(reqs("StopOnDisconnect=yes\n").unknown_keys.empty());
}

TEST_CASE("unknown X-Fleet keys are reported once in order of appearance") {
  auto r = reqs("Foo=1\nMachineOf=a.service\nweight=2\nFoo=3\nmachineid=x\n");
  CHECK(r.unknown_keys == Strings{"Foo", "weight", "machineid"});
  CHECK_FALSE(r.has_machine_id);
}

TEST_CASE("keys outside X-Fleet are not requirements") {
  auto u =
      UnitFile::from_options({{"Unit", "Conflicts", "a.service"}, {"Service", "MachineID", "abc"}});
  auto r = requirements_of(u, "foo.service");
  CHECK(r.conflicts.empty());
  CHECK_FALSE(r.has_machine_id);
}

struct SpecCase {
  std::string name;
  std::string value;
  std::string want;
};

TEST_CASE("specifiers are substituted from the unit's own name in n N p i order") {
  const std::vector<SpecCase> cases = {
      {"foo.service", "%p.socket", "foo.socket"},
      {"foo@bar.service", "%n", "foo@bar.service"},
      {"foo@bar.service", "%N", "foo@bar"},
      {"foo@bar.service", "%p", "foo"},
      {"foo@bar.service", "%i", "bar"},
      {"foo.service", "x%iy", "xy"},
      {"foo@bar.service", "%p-%i-%p", "foo-bar-foo"},
      {"foo@bar.service", "%%p", "%foo"},
      {"foo@bar.service", "%x %P", "%x %P"},
      // Sequential replacement: a name containing "%p" is itself expanded by the next step.
      {"a%p@i.service", "%n", "aa%p@i.service"},
      {"noname", "%p%n%i", "%p%n%i"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CAPTURE(c.value);
    CHECK(reqs("MachineOf=" + c.value + "\n", c.name).peers == Strings{c.want});
  }
}

TEST_CASE("metadata specifiers give each template instance its own requirement") {
  auto u = xfleet("MachineMetadata=hostname=%i\n");
  CHECK(requirements_of(u, "metadata@smoke1.service").metadata.at("hostname") ==
        std::set<std::string>{"smoke1"});
  CHECK(requirements_of(u, "metadata@smoke2.service").metadata.at("hostname") ==
        std::set<std::string>{"smoke2"});
  // The template itself has an empty instance, so the pair is dropped.
  CHECK(requirements_of(u, "metadata@.service").metadata.empty());
}

struct ValidateCase {
  std::string why;
  std::string body;
  std::string want_error;  // empty: valid
};

// `key` given n distinct values, one option line each.
std::string many(const std::string& key, int n) {
  std::string body;
  for (int i = 0; i < n; ++i) body += key + "=u" + std::to_string(i) + ".service\n";
  return body;
}

TEST_CASE("a stored glob over the limit matches nothing") {
  Requirements r;
  r.conflicts = {"a" + std::string(300, '*')};
  r.replaces = r.conflicts;
  CHECK_FALSE(conflicts_with(r, "x.service", Requirements{}, "abc.service"));
  CHECK_FALSE(replaces(r, "abc.service"));
}

TEST_CASE("requirements of a unit with 100k distinct conflicts keep their order") {
  // Deduplication used to compare each value with every earlier one: ~5 * 10^9 comparisons here.
  std::string body;
  for (int i = 0; i < 100000; ++i) {
    body += (i % 100 == 0 ? "Conflicts=c" : " c") + std::to_string(i) + (i % 100 == 99 ? "\n" : "");
  }
  auto r = reqs(body + "Conflicts=c7\n");
  REQUIRE(r.conflicts.size() == 100000);
  CHECK(r.conflicts.front() == "c0");
  CHECK(r.conflicts.back() == "c99999");
}

TEST_CASE("option validation rejects unresolvable and incompatible requirements") {
  const std::vector<ValidateCase> cases = {
      {"no requirements", "", ""},
      {"peer matching a conflict", "MachineOf=bar.service\nConflicts=b*.service\n",
       "unresolvable requirements: peer \"bar.service\" matches conflict \"b*.service\""},
      {"peer matching a replace", "MachineOf=bar.service\nReplaces=bar.service\n",
       "unresolvable requirements: peer \"bar.service\" matches replace \"bar.service\""},
      {"peer match checked before combinations",
       "MachineID=abc\nMachineOf=bar.service\nConflicts=bar.service\n",
       "unresolvable requirements: peer \"bar.service\" matches conflict \"bar.service\""},
      {"peer matched after specifier substitution", "MachineOf=%p.socket\nConflicts=foo.*\n",
       "unresolvable requirements: peer \"foo.socket\" matches conflict \"foo.*\""},
      {"MachineID with MachineOf", "MachineID=abc\nMachineOf=bar.service\n",
       "MachineID cannot be used with Peers"},
      {"alias machine ID with MachineOf", "X-ConditionMachineID=abc\nMachineOf=bar.service\n",
       "MachineID cannot be used with Peers"},
      {"MachineID with Conflicts", "MachineID=abc\nConflicts=bar.service\n",
       "MachineID cannot be used with Conflicts"},
      {"MachineID with Global", "MachineID=abc\nGlobal=true\n",
       "MachineID cannot be used with Global"},
      {"MachineID with Replaces", "MachineID=abc\nReplaces=bar.service\n",
       "MachineID cannot be used with Replaces"},
      {"empty MachineID still counts", "MachineID=\nGlobal=true\n",
       "MachineID cannot be used with Global"},
      {"Global with MachineOf", "Global=true\nMachineOf=bar.service\n",
       "Global cannot be used with Peers"},
      {"Global with Replaces", "Global=true\nReplaces=bar.service\n",
       "Global cannot be used with Replaces"},
      {"Conflicts with Replaces", "Conflicts=a.service\nReplaces=bar.service\n",
       "Conflicts cannot be used with Replaces"},
      {"first combination wins", "MachineID=abc\nMachineOf=b.service\nConflicts=c.service\n",
       "MachineID cannot be used with Peers"},
      {"Global with Conflicts is allowed", "Global=true\nConflicts=bar.service\n", ""},
      {"Global with metadata is allowed", "Global=true\nMachineMetadata=a=b\n", ""},
      {"false Global with MachineOf is allowed", "Global=false\nMachineOf=bar.service\n", ""},
      {"MachineOf with non-matching Replaces is allowed",
       "MachineOf=bar.service\nReplaces=baz.service\n", ""},
      {"MachineID with metadata is allowed", "MachineID=abc\nMachineMetadata=a=b\n", ""},
      {"unknown keys are not errors", "Frobnicate=yes\n", ""},
      {"malformed conflict globs never match", "MachineOf=bar.service\nConflicts=[\n", ""},
      {"64 conflicts are allowed", many("Conflicts", 64), ""},
      {"65 conflicts are refused", many("Conflicts", 65),
       "Conflicts has 65 values, at most 64 allowed"},
      {"65 peers are refused", many("MachineOf", 65),
       "MachineOf has 65 values, at most 64 allowed"},
      {"65 replaces are refused", many("Replaces", 65),
       "Replaces has 65 values, at most 64 allowed"},
      {"a 256-byte glob is allowed", "Conflicts=" + std::string(255, 'a') + "*\n", ""},
      {"a 257-byte glob is refused", "Replaces=" + std::string(256, 'a') + "*\n",
       "Replaces value of 257 bytes, at most 256 allowed"},
      {"limits are checked before the (costly) peer matching",
       "MachineOf=bar.service\nConflicts=b*" + std::string(300, '*') + "\n",
       "Conflicts value of 302 bytes, at most 256 allowed"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.why);
    auto st = validate_options(xfleet(c.body), "foo.service");
    if (c.want_error.empty()) {
      CHECK_MESSAGE(st.has_value(), (st.has_value() ? "" : st.error().message));
    } else {
      REQUIRE(st.has_error());
      CHECK(st.error().code == Errc::invalid_argument);
      CHECK(st.error().message == c.want_error);
    }
  }
}

TEST_CASE("option validation re-parses the canonical form") {
  auto long_value = UnitFile::from_options({{"Service", "ExecStart", std::string(3000, 'x')}});
  auto st = validate_options(long_value, "foo.service");
  REQUIRE(st.has_error());
  CHECK(st.error().message == "line 2: line too long (max 2048 bytes)");

  auto bad_name = UnitFile::from_options({{"Service", "Exec\nStart", "x"}});
  st = validate_options(bad_name, "foo.service");
  REQUIRE(st.has_error());
  CHECK(st.error().message == "line 2: unexpected newline encountered while parsing option name");

  auto bad_section = UnitFile::from_options({{"Ser]vice", "A", "x"}});
  st = validate_options(bad_section, "foo.service");
  REQUIRE(st.has_error());
  CHECK(st.error().message == "line 1: found garbage after section name \"Ser\": \"vice]\"");
}

TEST_CASE("a unit whose canonical form joins a CR-split line fails validation") {
  // "ExecStart=\r<2040 bytes>" has no run of 2048 bytes, but trimming the value removes the CR
  // and the serialized line is too long for systemd, which is what fleet's re-parse catches.
  std::ifstream in(std::string(FLEET_UNITFILE_DATA_DIR) + "/cr-joined-long-line.service",
                   std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  auto unit = UnitFile::parse(text.str());
  REQUIRE(unit.has_value());
  auto st = validate_options(unit.value(), "foo.service");
  REQUIRE(st.has_error());
  CHECK(st.error().message == "line 2: line too long (max 2048 bytes)");
}

TEST_CASE("option validation quotes names like Go's %q") {
  auto st = validate_options(xfleet("MachineOf=\"a\tb\"\nConflicts=*\n"), "foo.service");
  REQUIRE(st.has_error());
  CHECK(st.error().message == "unresolvable requirements: peer \"a\\tb\" matches conflict \"*\"");
}

TEST_CASE("conflicts are symmetric and glob-matched") {
  auto a = reqs("Conflicts=b*.service\n");
  Requirements none;
  CHECK(conflicts_with(a, "a.service", none, "bar.service"));
  CHECK(conflicts_with(none, "bar.service", a, "a.service"));
  CHECK_FALSE(conflicts_with(a, "a.service", none, "car.service"));
  CHECK_FALSE(conflicts_with(none, "x.service", none, "y.service"));
  // A unit never conflicts with itself even if its pattern matches its own name.
  auto self = reqs("Conflicts=*.service\n");
  CHECK_FALSE(conflicts_with(self, "s.service", self, "s.service"));
  CHECK(conflicts_with(self, "s.service", self, "t.service"));
  // Malformed patterns never match; '*' does not cross '/'.
  CHECK_FALSE(conflicts_with(reqs("Conflicts=[\n"), "a.service", none, "["));
  CHECK_FALSE(conflicts_with(reqs("Conflicts=*\n"), "a.service", none, "x/y"));
}

TEST_CASE("replaces matches the other unit's name with globs") {
  auto r = reqs("Replaces=old-*.service\n");
  CHECK(replaces(r, "old-1.service"));
  CHECK_FALSE(replaces(r, "new-1.service"));
  CHECK_FALSE(replaces(Requirements{}, "old-1.service"));
}

TEST_CASE("a required machine ID matches the full or the 8-character short ID") {
  const std::string id = "2f1a9c3e4b5d6f708192a3b4c5d6e7f8";
  CHECK(machine_id_matches(id, id));
  CHECK(machine_id_matches("2f1a9c3e", id));
  CHECK_FALSE(machine_id_matches("2f1a9c3", id));
  CHECK_FALSE(machine_id_matches("2f1a9c3e4", id));
  CHECK_FALSE(machine_id_matches("", id));
  CHECK(machine_id_matches("short", "short"));
}

TEST_CASE("metadata matches when every key has an allowed value") {
  auto r = reqs("MachineMetadata=region=us\nMachineMetadata=region=eu\nMachineMetadata=disk=ssd\n");
  using Md = std::map<std::string, std::string, std::less<>>;
  CHECK(metadata_matches(r, Md{{"region", "eu"}, {"disk", "ssd"}, {"extra", "x"}}));
  CHECK_FALSE(metadata_matches(r, Md{{"region", "eu"}}));
  CHECK_FALSE(metadata_matches(r, Md{{"region", "EU"}, {"disk", "ssd"}}));
  CHECK(metadata_matches(Requirements{}, Md{}));
}

}  // namespace
// examples/ ships with the packages and is quoted by Documentation/unit-files.md: each file must
// submit as the name a user gives it (a template as one of its instances) and mean what its
// comment says.
TEST_CASE("the unit files in examples/ parse and validate") {
  auto requirements = [](const std::string& file, const std::string& as) {
    std::ifstream in(std::string(FLEET_EXAMPLES_DIR) + "/" + file);
    REQUIRE_MESSAGE(in.good(), file);
    std::stringstream text;
    text << in.rdbuf();
    auto unit = UnitFile::parse(text.str());
    REQUIRE_MESSAGE(unit.has_value(), file << ": " << unit.error().message);
    auto valid = validate_options(unit.value(), as);
    CHECK_MESSAGE(valid.has_value(), file << ": " << valid.error().message);
    Requirements r = requirements_of(unit.value(), as);
    CHECK_MESSAGE(r.unknown_keys.empty(), file);
    return r;
  };
  CHECK(requirements("hello.service", "hello.service").conflicts.empty());
  CHECK(requirements("example@.service", "example@1.service").conflicts.empty());
  CHECK(requirements("apache@.service", "apache@1.service").conflicts ==
        Strings{"apache@*.service"});
  CHECK(requirements("node-exporter.service", "node-exporter.service").global);
  auto backup = requirements("backup.service", "backup.service");
  CHECK(backup.metadata.size() == 2);
  CHECK(backup.metadata["region"] == std::set<std::string>{"eu"});
  CHECK(requirements("backup-monitor.service", "backup-monitor.service").peers ==
        Strings{"backup.service"});
}

}  // namespace fleet::unitfile
