// The log line format: what an operator reads in the journal or on a terminal.

#include "common/log.h"

#include <doctest/doctest.h>

#include <string>

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
