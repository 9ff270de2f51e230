#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "common/backoff.h"
#include "common/glob.h"
#include "common/result.h"
#include "common/strings.h"
#include "common/version.h"

using namespace fleet;

TEST_CASE("glob star matches any run of characters except a slash") {
  CHECK(glob_match("apache.*.service", "apache.1.service"));
  CHECK(glob_match("*", "anything.service"));
  CHECK_FALSE(glob_match("*", "a/b"));
  CHECK_FALSE(glob_match("apache.*.service", "apache.1.socket"));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST_CASE("glob question mark and classes follow Go's path.Match") {
  CHECK(glob_match("conflict.?.service", "conflict.3.service"));
  CHECK_FALSE(glob_match("conflict.?.service", "conflict.10.service"));
  CHECK(glob_match("web[0-9].service", "web7.service"));
  CHECK_FALSE(glob_match("web[^0-9].service", "web7.service"));
  CHECK(glob_match("web[^0-9].service", "webx.service"));
  CHECK(glob_match("a\\*b", "a*b"));
  CHECK_FALSE(glob_match("a\\*b", "aXb"));
}

TEST_CASE("glob answers exactly as Go's path.Match, errors included") {
  // Pattern, name, expected: "match", "no" or "error" (path.Match's ErrBadPattern).
  struct Row {
    const char* pattern;
    const char* name;
    const char* want;
  };
  const Row rows[] = {
      {"abc", "abc", "match"},
      {"*", "abc", "match"},
      {"*c", "abc", "match"},
      {"a*", "a", "match"},
      {"a*", "abc", "match"},
      {"a*", "ab/c", "no"},
      {"a*/b", "abc/b", "match"},
      {"a*/b", "a/c/b", "no"},
      {"a*b*c*d*e*/f", "axbxcxdxe/f", "match"},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", "match"},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", "no"},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", "no"},
      {"a*b?c*x", "abxbbxdbxebxczzx", "match"},
      {"a*b?c*x", "abxbbxdbxebxczzy", "no"},
      {"ab[c]", "abc", "match"},
      {"ab[b-d]", "abc", "match"},
      {"ab[e-g]", "abc", "no"},
      {"ab[^c]", "abc", "no"},
      {"ab[^b-d]", "abc", "no"},
      {"ab[^e-g]", "abc", "match"},
      {"a\\*b", "a*b", "match"},
      {"a\\*b", "ab", "no"},
      {"a?b", "a\u263ab", "match"},  // '?' is one code point, not one byte
      {"a[^a]b", "a\u263ab", "match"},
      {"a???b", "a\u263ab", "no"},
      {"a[^a][^a][^a]b", "a\u263ab", "no"},
      {"[a-\u03b6]*", "\u03b1", "match"},
      {"*[a-\u03b6]", "A", "no"},
      {"a?b", "a/b", "no"},
      {"a*b", "a/b", "no"},
      {"[\\]a]", "]", "match"},
      {"[\\-]", "-", "match"},
      {"[x\\-]", "x", "match"},
      {"[x\\-]", "-", "match"},
      {"[x\\-]", "z", "no"},
      {"[\\-x]", "x", "match"},
      {"[\\-x]", "-", "match"},
      {"[\\-x]", "a", "no"},
      {"[]a]", "]", "error"},
      {"[-]", "-", "error"},
      {"[x-]", "x", "error"},
      {"[x-]", "-", "error"},
      {"[x-]", "z", "error"},
      {"[-x]", "x", "error"},
      {"[-x]", "-", "error"},
      {"[-x]", "a", "error"},
      {"\\", "a", "error"},
      {"[a-b-c]", "a", "error"},
      {"[", "a", "error"},
      {"[^", "a", "error"},
      {"[^bc", "a", "error"},
      {"a[", "a", "error"},
      {"a[", "ab", "error"},
      {"a[", "x", "error"},
      {"a/b[", "x", "error"},
      {"*x", "xxx", "match"},
      // A malformed chunk after a mismatch is still reported, as is invalid UTF-8 in a class.
      {"x*[", "abc", "error"},
      {"[\xff]", "a", "error"},
      // Invalid UTF-8 in a name is one U+FFFD per byte.
      {"a?b",
       "a\xff"
       "b",
       "match"},
      {"a??b",
       "a\xff\xfe"
       "b",
       "match"},
  };
  for (const Row& r : rows) {
    CAPTURE(r.pattern);
    CAPTURE(r.name);
    auto got = glob_match_checked(r.pattern, r.name);
    std::string seen = !got ? "error" : *got ? "match" : "no";
    CHECK(seen == r.want);
  }
}

TEST_CASE("glob cost is bounded by pattern length times name length, for any input") {
  // Without the bound these never finish: a backtracking matcher tries every split of the name
  // among the stars, C(400, 40) ways for the first pair.
  std::string stars;
  for (int i = 0; i < 40; ++i) stars += "*a";
  const std::pair<std::string, std::string> hostile[] = {
      {stars + "*b", std::string(400, 'a')},
      {stars + "b", std::string(400, 'a')},
      {stars + "*[b-c]", std::string(400, 'a') + "d"},
      {"*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?*?/", std::string(400, 'x')},
      {stars + "*", std::string(400, 'a') + "/"},
  };
  for (const auto& [p, name] : hostile) {
    // CAPTURE is a lambda, and clang before 16 cannot capture a structured binding.
    const std::string& pattern = p;
    CAPTURE(pattern);
    size_t steps = 0;
    auto got = glob_match_checked(pattern, name, &steps);
    REQUIRE(got.has_value());
    CHECK_FALSE(*got);
    CHECK(steps <= (pattern.size() + 1) * (name.size() + 2));
  }
  size_t steps = 0;
  CHECK(glob_match_checked(stars, std::string(400, 'a'), &steps).value());
  CHECK(steps <= (stars.size() + 1) * 402);
}

TEST_CASE("a malformed glob matches nothing and is reported") {
  CHECK_FALSE(glob_match_checked("web[.service", "web[.service").has_value());
  CHECK_FALSE(glob_match_checked("abc\\", "abc").has_value());
  CHECK_FALSE(glob_match("[", "["));
  CHECK(glob_match_checked("x*", "x").value());
}

TEST_CASE("string helpers trim, split and read fleet's truthy values") {
  CHECK(trim("  a b \r\n") == "a b");
  CHECK(split("a,,b", ',') == std::vector<std::string>{"a", "", "b"});
  CHECK(split_fields("  a\tb  c ") == std::vector<std::string>{"a", "b", "c"});
  CHECK(parse_truthy("YES"));
  CHECK(parse_truthy("t"));
  CHECK_FALSE(parse_truthy("false"));
  CHECK_FALSE(parse_truthy("2"));
  CHECK(hex_encode(std::string("\x01\xab", 2)) == "01ab");
}

TEST_CASE("errors carry a code and a message") {
  Result<int> r = fail(Errc::not_found, "unit x.service");
  REQUIRE(r.has_error());
  CHECK(r.error().code == Errc::not_found);
  CHECK(r.error().describe() == "not found: unit x.service");
  Result<int> good = 3;
  CHECK(good.value() == 3);
}

TEST_CASE("backoff doubles from its first delay up to its cap and starts over after reset") {
  using std::chrono::milliseconds;
  fleet::Backoff b(milliseconds(100), milliseconds(500));
  CHECK(b.current() == milliseconds(0));
  CHECK(b.next() == milliseconds(100));
  CHECK(b.next() == milliseconds(200));
  CHECK(b.next() == milliseconds(400));
  CHECK(b.next() == milliseconds(500));
  CHECK(b.next() == milliseconds(500));
  b.reset();
  CHECK(b.next() == milliseconds(100));
}

TEST_CASE("the version is the release version, alone or followed by a git describe suffix") {
  const std::string v = version();
  const std::string release = FLEET_PROJECT_VERSION;  // CMake's project version
  CHECK((v == release || v.starts_with(release + "-")));
  CHECK(v.find_first_of(" \n") == std::string::npos);
}
