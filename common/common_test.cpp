#include <doctest/doctest.h>

#include "common/glob.h"
#include "common/result.h"
#include "common/strings.h"

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
