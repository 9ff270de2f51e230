#include "unitfile/unit_file.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fleet::unitfile {
namespace {

using Opts = std::vector<UnitOption>;

std::string read_data(const std::string& name) {
  std::ifstream in(std::string(FLEET_UNITFILE_DATA_DIR) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing test data file " << name);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim_newline(std::string s) {
  while (!s.empty() && s.back() == '\n') s.pop_back();
  return s;
}

Opts parse_ok(std::string_view text) {
  auto r = UnitFile::parse(text);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return r.value().options();
}

std::string parse_error(std::string_view text) {
  auto r = UnitFile::parse(text);
  REQUIRE_MESSAGE(r.has_error(), "parse unexpectedly succeeded");
  CHECK(r.error().code == Errc::invalid_argument);
  return r.error().message;
}

struct ParseCase {
  std::string name;
  std::string text;
  Opts want;
};

TEST_CASE("parser accepts go-systemd syntax and yields options in file order") {
  const std::vector<ParseCase> cases = {
      {"empty input has no options", "", {}},
      {"text before the first section is ignored",
       "This=Ignored\n>>>>>>\nnonsense upon stilts\n[Unit]\nA=b\n",
       {{"Unit", "A", "b"}}},
      {"a comment before the first section may contain brackets",
       "# [Nope]\n[Unit]\nA=b\n",
       {{"Unit", "A", "b"}}},
      {"a section without options yields nothing", "[Unit]\n", {}},
      {"a section header at end of file without newline is fine", "[Unit]", {}},
      {"section names are verbatim and not trimmed", "[ Unit ]\nA=b\n", {{" Unit ", "A", "b"}}},
      {"white space after the section header is allowed",
       "[Unit] \t \nA=b\n",
       {{"Unit", "A", "b"}}},
      {"names and values are trimmed", "[Unit]\n  A  =   b c  \n", {{"Unit", "A", "b c"}}},
      {"an empty value is kept", "[Unit]\nA=\nB=   \n", {{"Unit", "A", ""}, {"Unit", "B", ""}}},
      {"an empty name is allowed", "[Unit]\n=x\n", {{"Unit", "", "x"}}},
      {"any characters are allowed in names", "[Unit]\n<<<<=bar\n", {{"Unit", "<<<<", "bar"}}},
      {"only the first equals sign separates name and value",
       "[Service]\nEnvironment=A=1\n",
       {{"Service", "Environment", "A=1"}}},
      {"duplicate keys are kept in order",
       "[Unit]\nA=1\nA=2\nA=1\n",
       {{"Unit", "A", "1"}, {"Unit", "A", "2"}, {"Unit", "A", "1"}}},
      {"repeated sections are kept in file order",
       "[A]\nx=1\n[B]\ny=2\n[A]\nz=3\n",
       {{"A", "x", "1"}, {"B", "y", "2"}, {"A", "z", "3"}}},
      {"hash and semicolon start comment lines",
       "[Unit]\n# A=1\n; B=2\n  # C=3\nD=4\n",
       {{"Unit", "D", "4"}}},
      {"a comment ending in backslash continues onto the next line",
       "[Unit]\n# x \\\nA=1\nB=2\n",
       {{"Unit", "B", "2"}}},
      {"a comment continuation tolerates exactly one trailing space",
       "[Unit]\n# x \\ \nA=1\n# y \\  \nB=2\n",
       {{"Unit", "B", "2"}}},
      {"a comment continuation can chain several lines",
       "[Unit]\n#a\\\nb\\\nc\nD=4\n",
       {{"Unit", "D", "4"}}},
      {"comment characters after the start of a value are part of it",
       "[Unit]\nA=b # c\n",
       {{"Unit", "A", "b # c"}}},
      {"a value ending in backslash continues with the newline preserved",
       "[Service]\nExecStart=echo \\\n  \"pi\\\n  ng\"\n",
       {{"Service", "ExecStart", "echo \\\n  \"pi\\\n  ng\""}}},
      {"comment-looking lines inside a continuation belong to the value",
       "[S]\nA=x \\\n# y\nB=z\n",
       {{"S", "A", "x \\\n# y"}, {"S", "B", "z"}}},
      {"a continuation ended by an empty line keeps one trailing newline",
       "[S]\nA=x \\\n\nB=y\n",
       {{"S", "A", "x \\\n"}, {"S", "B", "y"}}},
      {"a continuation ended by a white-space line keeps one trailing newline",
       "[S]\nA=x \\\n   \t\nB=y\n",
       {{"S", "A", "x \\\n"}, {"S", "B", "y"}}},
      {"a continuation at end of file without newline keeps the backslash only",
       "[S]\nA=x \\",
       {{"S", "A", "x \\"}}},
      {"a continuation whose last line ends the file keeps the newline",
       "[S]\nA=x \\\n",
       {{"S", "A", "x \\\n"}}},
      {"a backslash in the middle of a value does not continue it",
       "[S]\nA=a\\b\nB=c\n",
       {{"S", "A", "a\\b"}, {"S", "B", "c"}}},
      {"a continuation swallows what looks like the next option",
       "[S]\nA=a\\\nB=c\n",
       {{"S", "A", "a\\\nB=c"}}},
      {"CRLF line endings are accepted",
       "[Unit]\r\nA=b\r\nC = d \r\n",
       {{"Unit", "A", "b"}, {"Unit", "C", "d"}}},
      {"a lone carriage return at end of file is stripped", "[Unit]\nA=b\r", {{"Unit", "A", "b"}}},
      {"a carriage return inside a value is kept", "[Unit]\nA=b\rc\n", {{"Unit", "A", "b\rc"}}},
      {"with CRLF a trailing backslash is not a continuation (go-systemd keeps the CR)",
       "[S]\nA=x \\\r\nB=y\r\n",
       {{"S", "A", "x \\"}, {"S", "B", "y"}}},
      {"with CRLF a comment ending in backslash does not continue",
       "[S]\n# c \\\r\nB=y\r\n",
       {{"S", "B", "y"}}},
      {"quotes are ordinary characters", "[S]\nA=\"a b\" 'c'\n", {{"S", "A", "\"a b\" 'c'"}}},
      {"unicode white space is trimmed like Go's TrimSpace",
       "[S]\n\xc2\xa0"
       "A\xe2\x80\x83=\xe3\x80\x80v\xc2\x85\n",
       {{"S", "A", "v"}}},
      {"invalid UTF-8 becomes U+FFFD, one per byte, as fleet stored it",
       "[S\xff]\nA\xff=v\xff\xe2\x82x\n",
       {{"S\xef\xbf\xbd", "A\xef\xbf\xbd", "v\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx"}}},
      {"a first line of 2048 bytes passes: go-systemd's first check comes after one byte",
       std::string(kMaxLineBytes, 'x') + "\n[S]\nA=b\n",
       {{"S", "A", "b"}}},
      {"a long run after a CR passes when the check at the value's start sees the CR",
       "[S]\nA=" + std::string(1000, 'x') + "\r" + std::string(2100, 'y') + "\n",
       {{"S", "A", std::string(1000, 'x') + "\r" + std::string(2100, 'y')}}},
      {"a long line starting while the buffer holds less than 2048 bytes is not checked",
       "[S]\n" + std::string(3 * 1000, '#').replace(999, 1, "\n").replace(1999, 1, "\n") +
           "\nA=" + std::string(3000, 'z') + "\n",
       {{"S", "A", std::string(3000, 'z')}}},
      {"a new section header may follow an option directly", "[A]\nx=1\n[B]\n", {{"A", "x", "1"}}},
      {"a section name may contain a newline", "[A\nB]\nx=1\n", {{"A\nB", "x", "1"}}},
      {"a line just under the limit is accepted",
       "[S]\nA=" + std::string(kMaxLineBytes - 3, 'x') + "\n",
       {{"S", "A", std::string(kMaxLineBytes - 3, 'x')}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(parse_ok(c.text) == c.want);
  }
}

struct ErrorCase {
  std::string name;
  std::string text;
  std::string want;
};

TEST_CASE("parser errors name the line and the problem") {
  const std::vector<ErrorCase> cases = {
      {"a line without equals sign", "[Unit]\nA=b\nnonsense upon stilts\nC=d\n",
       "line 3: unexpected newline encountered while parsing option name"},
      {"a name interrupted by a carriage return", "[Unit]\nfoo\r\n",
       "line 2: unexpected newline encountered while parsing option name"},
      {"a last line without equals sign", "[Unit]\nA=b\n<<<<<<",
       "line 3: unexpected end of file while parsing option name"},
      {"a section header without closing bracket", "[Unit\nA=b\n",
       "line 1: unable to find end of section"},
      {"a later section header without closing bracket", "[Unit]\nA=b\n\n[Service\n",
       "line 4: unable to find end of section"},
      {"garbage after a section header", "[Unit]\n[Service] x\nA=b\n",
       "line 2: found garbage after section name \"Service\": \"x\""},
      {"a physical line of the maximum length",
       "[S]\nA=" + std::string(kMaxLineBytes - 2, 'x') + "\n",
       "line 2: line too long (max 2048 bytes)"},
      {"a long comment line", "[S]\n#" + std::string(kMaxLineBytes, 'x') + "\nA=b\n",
       "line 2: line too long (max 2048 bytes)"},
      {"a first line of 2049 bytes", std::string(kMaxLineBytes + 1, 'x') + "\n[S]\n",
       "line 1: line too long (max 2048 bytes)"},
      {"a long line in the second 2 KiB of a long file",
       "[S]\n" + std::string(1000, '#') + "\nA=" + std::string(2100, 'z') + "\n",
       "line 3: line too long (max 2048 bytes)"},
      {"a long line after a syntax error loses to the error",
       "[S]\nbad\n" + std::string(kMaxLineBytes, 'x'),
       "line 2: unexpected newline encountered while parsing option name"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    CHECK(parse_error(c.text) == c.want);
  }
}

TEST_CASE("parser rejects files above the size limit") {
  std::string big;
  while (big.size() <= kMaxFileBytes) big += "[S]\nA=0123456789\n";
  auto msg = parse_error(big);
  CHECK(msg.find("unit file too large") == 0);
  CHECK(msg.find("max 1048576 bytes") != std::string::npos);
}

TEST_CASE("options parsed before an error are not returned") {
  auto r = UnitFile::parse("[S]\nA=b\nbroken\n");
  CHECK(r.has_error());
}

TEST_CASE("serializer groups options by section in order of first appearance") {
  auto u = UnitFile::from_options({{"Unit", "Description", "Foo"},
                                   {"Service", "ExecStart", "/bin/x"},
                                   {"Unit", "After", "a.service"}});
  CHECK(u.serialize() ==
        "[Unit]\nDescription=Foo\nAfter=a.service\n\n[Service]\nExecStart=/bin/x\n");
}

TEST_CASE("serializer writes nothing for zero options") {
  CHECK(UnitFile::from_options({}).serialize().empty());
  CHECK(UnitFile().serialize().empty());
}

TEST_CASE("canonical form drops comments, blank lines and white space around equals") {
  auto r =
      UnitFile::parse("# c\n\n[Unit]\n  Description =  Foo \n\n\n[Service]\nExecStart = /bin/x\n");
  REQUIRE(r.has_value());
  CHECK(r.value().serialize() == "[Unit]\nDescription=Foo\n\n[Service]\nExecStart=/bin/x\n");
}

TEST_CASE("hash is the SHA-1 of the canonical form") {
  auto r = UnitFile::parse("[Service]\nExecStart=/bin/sleep 100\n");
  REQUIRE(r.has_value());
  CHECK(r.value().hash() == "1c6fb6f3684bafb0c173d8b8b957ceff031180c1");
  CHECK(r.value().short_hash() == "1c6fb6f");
  // Comments and spacing do not change the identity of a unit.
  auto messy = UnitFile::parse("; x\n[Service]\n ExecStart =  /bin/sleep 100 \n");
  REQUIRE(messy.has_value());
  CHECK(messy.value().hash() == r.value().hash());
  CHECK(messy.value() == r.value());
}

TEST_CASE("the empty unit hashes to SHA-1 of nothing") {
  CHECK(UnitFile().hash() == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(UnitFile().short_hash() == "da39a3e");
  CHECK(sha1_hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709");
  CHECK(sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST_CASE("units with different option order have different hashes") {
  auto a = UnitFile::from_options({{"S", "A", "1"}, {"S", "B", "2"}});
  auto b = UnitFile::from_options({{"S", "B", "2"}, {"S", "A", "1"}});
  CHECK(a.hash() != b.hash());
  CHECK_FALSE(a == b);
}

TEST_CASE("golden files parse to their canonical form and hash") {
  for (std::string name : {"hello.service", "metadata@.service", "conflict.multiple.1.service",
                           "messy.service", "invalid-utf8.service"}) {
    CAPTURE(name);
    std::string canonical = read_data(std::string(name) + ".canonical");
    std::string want_hash = trim_newline(read_data(std::string(name) + ".sha1"));
    auto r = UnitFile::parse(read_data(name));
    REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
    CHECK(r.value().serialize() == canonical);
    CHECK(r.value().hash() == want_hash);
    // The .sha1 files come from sha1sum, cross-checking the OpenSSL digest.
    CHECK(sha1_hex(canonical) == want_hash);
    // The canonical form is a fixed point (options are regrouped by section, so compare text).
    auto again = UnitFile::parse(canonical);
    REQUIRE(again.has_value());
    CHECK(again.value().serialize() == canonical);
  }
}

TEST_CASE("golden broken files report the expected error") {
  for (std::string name : {"bad-option-name.service", "bad-section.service", "bad-eof.service"}) {
    CAPTURE(name);
    CHECK(parse_error(read_data(name)) == trim_newline(read_data(std::string(name) + ".error")));
  }
}

TEST_CASE("messy golden file keeps its tricky values") {
  auto r = UnitFile::parse(read_data("messy.service"));
  REQUIRE(r.has_value());
  const UnitFile& u = r.value();
  CHECK(u.description() == "Messy   unit");
  CHECK(u.values("Service", "ExecStartPost") == std::vector<std::string>{"/bin/true \\\n"});
  CHECK(u.values("Service", "Environment") == std::vector<std::string>{"A=1", "B=2"});
  CHECK(u.values("Unit", "Requires").empty());
  CHECK(u.values("Unit", "After").empty());
  CHECK(u.values("X-Fleet", "Conflicts") == std::vector<std::string>{"a.service", "b c.service"});
}

struct SplitCase {
  std::string value;
  std::vector<std::string> want;
};

TEST_CASE("multi-value rule splits fully quoted values only") {
  const std::vector<SplitCase> cases = {
      {R"("bar" "ping" "pong")", {"bar", "ping", "pong"}},
      {R"("")", {""}},
      {R"(")", {""}},
      {R"("bar" ")", {"bar", ""}},
      {R"("foo\"bar")", {"foo\\bar"}},
      {R"("a b" "c")", {"a b", "c"}},
      {R"("a"  "b")", {"a", "", "b"}},
      {R"("bar)", {R"("bar)"}},
      {R"(foo\"bar)", {R"(foo\"bar)"}},
      {R"(a b c)", {"a b c"}},
      {"", {""}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.value);
    CHECK(split_multi_value(c.value) == c.want);
  }
}

TEST_CASE("parsed view splits X-Fleet values but keeps other sections raw") {
  auto r = UnitFile::parse(
      "[Unit]\nDescription=\"a\" \"b\"\n[X-Fleet]\nMachineMetadata=\"a=1\" \"b=2\"\n"
      "MachineMetadata=c=3\n");
  REQUIRE(r.has_value());
  const UnitFile& u = r.value();
  CHECK(u.values("Unit", "Description") == std::vector<std::string>{"\"a\" \"b\""});
  CHECK(u.values("X-Fleet", "MachineMetadata") == std::vector<std::string>{"a=1", "b=2", "c=3"});
  CHECK(u.values("X-Fleet", "Missing").empty());
  CHECK(u.values("Missing", "Missing").empty());
  CHECK(u.contents().at("X-Fleet").size() == 1);
}

TEST_CASE("description is the first Unit Description or empty") {
  CHECK(UnitFile().description().empty());
  auto u = UnitFile::from_options({{"Service", "Description", "no"},
                                   {"Unit", "Description", "first"},
                                   {"Unit", "Description", "second"}});
  CHECK(u.description() == "first");
}

TEST_CASE("from_options keeps values verbatim even if they would not re-parse") {
  auto u = UnitFile::from_options({{"S", "A", "  padded  "}});
  CHECK(u.options().front().value == "  padded  ");
  CHECK(u.serialize() == "[S]\nA=  padded  \n");
}

}  // namespace
}  // namespace fleet::unitfile
