#include "fleetd/config/goini.h"

#include <doctest/doctest.h>

using namespace fleet::fleetd;

namespace {
std::string value_of(const std::vector<IniEntry>& es, const std::string& key) {
  std::string v = "<absent>";
  for (const auto& e : es) {
    if (e.section.empty() && e.key == key) v = e.value;
  }
  return v;
}
}  // namespace

TEST_CASE("fleet.conf values: quotes, comments, blanks and case") {
  auto es = parse_goini(
                "# comment\n"
                "; also a comment\n"
                "\n"
                "   \t  \n"
                "  public_ip = 10.0.0.1  \n"
                "Metadata=\"region=us, disk = ssd\"\n"
                "etcd_servers='http://a:2379'\n"
                "agent_ttl = 45s # forty-five\n"
                "verbosity=2;two\n"
                "etcd_key_prefix =\n"
                "token_limit = ; nothing\n"
                "systemd_user\n"
                "etcd_cafile = \"/x\" # quoted then comment\n")
                .value();
  CHECK(value_of(es, "public_ip") == "10.0.0.1");
  CHECK(value_of(es, "metadata") == "region=us, disk = ssd");
  CHECK(value_of(es, "etcd_servers") == "http://a:2379");
  CHECK(value_of(es, "agent_ttl") == "45s");
  CHECK(value_of(es, "verbosity") == "2");
  CHECK(value_of(es, "etcd_key_prefix") == "");
  CHECK(value_of(es, "token_limit") == "");
  CHECK(value_of(es, "systemd_user") == "");
  // goini only strips a quote spanning the whole value.
  CHECK(value_of(es, "etcd_cafile") == "\"/x\"");
  CHECK(es[0].line == 5);
}

TEST_CASE("a trailing backslash joins the next trimmed line") {
  auto es = parse_goini("etcd_servers = http://a:2379,\\\n    http://b:2379\nx=1\n").value();
  CHECK(value_of(es, "etcd_servers") == "http://a:2379,http://b:2379");
  CHECK(value_of(es, "x") == "1");
  auto eof = parse_goini("a = b\\");
  REQUIRE(eof.has_error());
  CHECK(eof.error().message.find("line 1") != std::string::npos);
}

TEST_CASE("sections scope later keys, the global part keeps its own") {
  auto es = parse_goini("a=1\n[ Other ]\na=2\nb=3\n").value();
  REQUIRE(es.size() == 3);
  CHECK(es[1].section == "other");
  CHECK(value_of(es, "a") == "1");
  CHECK(value_of(es, "b") == "<absent>");
}

TEST_CASE("malformed lines are syntax errors naming the line") {
  for (const char* bad : {"key value\n", "= value\n", "a b = c\n", "x=1\n\"quoted\"=2\n"}) {
    CAPTURE(bad);
    auto r = parse_goini(bad);
    if (std::string(bad).starts_with("x=1")) {
      // `"quoted"` is a valid goini key (no '=', space or tab).
      CHECK(r.has_value());
      continue;
    }
    REQUIRE(r.has_error());
    CHECK(r.error().message.find("syntax error at line") == 0);
  }
  CHECK(parse_goini("a=1\nb=2\nkey value\n").error().message.find("line 3") != std::string::npos);
}

TEST_CASE("duplicate keys are all returned in order and CRLF files read the same") {
  auto es = parse_goini("A=1\r\na=2\r\n").value();
  REQUIRE(es.size() == 2);
  CHECK(es[0].key == "a");
  CHECK(value_of(es, "a") == "2");
}
