// The log line format: what an operator reads in the journal or on a terminal.

#include "common/log.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using fleet::log::format_line;
using fleet::log::Level;

TEST_CASE("plain values are written as they are, values with spaces quoted") {
  CHECK(format_line(Level::info, "api", "set desired state",
                    {{"unit", "a.service"}, {"why", "asked twice"}, {"empty", ""}}) ==
        "INFO api: set desired state unit=a.service why=\"asked twice\" empty=\"\"\n");
  CHECK(format_line(Level::warn, "x", "m", {{"q", "say \"hi\""}, {"eq", "a=b"}}) ==
        "WARN x: m q=\"say \\\"hi\\\"\" eq=\"a=b\"\n");
}

TEST_CASE("control bytes from requests are escaped: one event stays one line") {
  // A unit name or header with CR LF must not forge a second log line; ESC must not reach the
  // terminal; NUL and DEL are shown, not swallowed.
  std::string forged = "a.service\r\nERROR engine: forged";
  std::string nasty = std::string("x\x1b[2Jy\0z\x7f\t", 10);
  auto line = format_line(Level::info, "api", "destroyed unit", {{"unit", forged}, {"v", nasty}});
  CHECK(line ==
        "INFO api: destroyed unit unit=\"a.service\\r\\nERROR engine: forged\" "
        "v=\"x\\x1b[2Jy\\x00z\\x7f\\t\"\n");
  CHECK(line.find('\n') == line.size() - 1);
  // A backslash alone is quoted and doubled, so an escape can always be told from the text.
  CHECK(format_line(Level::info, "c", "m", {{"p", "C:\\x1b"}}) == "INFO c: m p=\"C:\\\\x1b\"\n");
  // The message and keys are escaped too (they may carry request text).
  CHECK(format_line(Level::error, "c", "bad\nunit", {{"k\r", "v"}}) ==
        "ERROR c: bad\\nunit k\\r=v\n");
}

TEST_CASE("JSON lines: one object per event, every string escaped, invalid UTF-8 replaced") {
  using fleet::log::Event;
  using fleet::log::format_json;
  const std::string bad =
      "a\xff"
      "b\xc3";
  CHECK(format_json(Event{Level::warn, "agent", "start \"x\"", {{"unit", "a.service"}, {"v", bad}}},
                    "2026-12-06T07:55:01.123Z") ==
        "{\"time\":\"2026-12-06T07:55:01.123Z\",\"level\":\"warn\",\"component\":\"agent\","
        "\"msg\":\"start \\\"x\\\"\",\"unit\":\"a.service\",\"v\":\"a\xef\xbf\xbd"
        "b\xef\xbf\xbd\"}\n");
  // Control bytes cannot split the line; well-formed UTF-8 passes unchanged.
  CHECK(
      format_json(Event{Level::info, "c", "x\ny\x1b", {{"k", "\xc3\xa9"}}}) ==
      "{\"level\":\"info\",\"component\":\"c\",\"msg\":\"x\\u000ay\\u001b\",\"k\":\"\xc3\xa9\"}\n");
}

TEST_CASE("timestamps are RFC 3339 UTC with milliseconds") {
  const std::string t = fleet::log::timestamp_now();
  REQUIRE(t.size() == 24);
  CHECK(t[4] == '-');
  CHECK(t[10] == 'T');
  CHECK(t[19] == '.');
  CHECK(t.back() == 'Z');
}

namespace {
std::vector<std::string> g_seen;
void capture(const fleet::log::Event& e) {
  std::string s = std::string(fleet::log::level_name(e.level)) + " " + std::string(e.message);
  for (const auto& [k, v] : e.fields) s += " " + std::string(k) + "=" + std::string(v);
  g_seen.push_back(s);
}
}  // namespace

TEST_CASE("a sink receives each enabled event with its fields instead of stderr") {
  fleet::log::set_sink(&capture);
  fleet::log::info("engine", "schedule", {{"unit", "a.service"}, {"machine", "m1"}});
  fleet::log::debug("engine", "hidden at info level");
  fleet::log::set_sink(nullptr);
  REQUIRE(g_seen.size() == 1);
  CHECK(g_seen[0] == "info schedule unit=a.service machine=m1");
}
