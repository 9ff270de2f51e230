#include "api/page_token.h"

#include <doctest/doctest.h>

using namespace fleet::api;

TEST_CASE("page tokens encode like fleet's") {
  CHECK(PageToken{100, 2}.encode() == "ZAACAA==");
  CHECK(PageToken{12482, 0}.encode() == "wjAAAA==");
  CHECK(PageToken{19, 11852}.encode() == "EwBMLg==");
  CHECK(PageToken{}.next() == PageToken{1000, 2});  // fleetd's default page size (fleet: 100)
  CHECK(PageToken{1000, 2}.encode() == "6AMCAA==");
}

TEST_CASE("page tokens decode like fleet's") {
  auto a = decode_page_token("_wMAAA==");
  REQUIRE(a);
  CHECK(a.value() == PageToken{1023, 0});
  auto b = decode_page_token("LQAJAA==");
  REQUIRE(b);
  CHECK(b.value() == PageToken{45, 9});
  auto c = decode_page_token("ZABMLg==");
  REQUIRE(c);
  CHECK(c.value() == PageToken{100, 11852});
}

TEST_CASE("bad page tokens carry Go's decoder messages") {
  auto check_error = [](std::string_view tok, std::string_view msg) {
    auto r = decode_page_token(tok);
    REQUIRE_FALSE(r);
    CHECK(r.error().message == msg);
  };
  check_error("basdfasdf", "illegal base64 data at input byte 8");
  check_error("bogus", "illegal base64 data at input byte 4");
  check_error("ab!d", "illegal base64 data at input byte 2");
  check_error("", "EOF");
  check_error("ZAA=", "unexpected EOF");
  check_error("ZA==", "unexpected EOF");
  check_error("ZA=", "illegal base64 data at input byte 3");
  check_error("Z===", "illegal base64 data at input byte 1");
  check_error("ZAACAA==x", "illegal base64 data at input byte 8");
}

TEST_CASE("token validation") {
  CHECK(validate_page_token(PageToken{100, 9}, 100));  // fleet's token_limit
  auto limit = validate_page_token(PageToken{20, 9}, 100);
  REQUIRE_FALSE(limit);
  CHECK(limit.error().message == "token limit must be 100");
  auto page = validate_page_token(PageToken{100, 0}, 100);
  REQUIRE_FALSE(page);
  CHECK(page.error().message == "token page must be greater than zero");
  CHECK_FALSE(validate_page_token(decode_page_token("EwBMLg==").value()));
  // The default is fleetd's page size.
  CHECK(validate_page_token(PageToken{1000, 9}));
  CHECK(validate_page_token(PageToken{100, 9}).error().message == "token limit must be 1000");
}

TEST_CASE("base64url round-trips every length") {
  std::string s;
  for (int i = 0; i < 10; ++i) {
    auto back = base64url_decode(base64url_encode(s));
    REQUIRE(back);
    CHECK(back.value() == s);
    s += static_cast<char>(0xf0 + i);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8=");
}
