#include "fleetd/journal_log.h"

#include <doctest/doctest.h>

using fleet::fleetd::journal_fields;
using fleet::log::Event;
using fleet::log::Level;

TEST_CASE("a journal entry carries the level as priority and each field as a field") {
  auto f = journal_fields(
      Event{Level::warn, "agent", "start failed", {{"unit", "web@1.service"}, {"machine", "m1"}}});
  CHECK(f == std::vector<std::string>{"MESSAGE=agent: start failed unit=web@1.service machine=m1",
                                      "PRIORITY=4", "SYSLOG_IDENTIFIER=fleetd",
                                      "FLEET_COMPONENT=agent", "UNIT=web@1.service", "MACHINE=m1"});
  CHECK(journal_fields(Event{Level::error, "c", "m", {}})[1] == "PRIORITY=3");
  CHECK(journal_fields(Event{Level::debug, "c", "m", {}})[1] == "PRIORITY=7");
}

TEST_CASE("field names journald would refuse are made valid") {
  auto f =
      journal_fields(Event{Level::info, "c", "m", {{"_pid", "1"}, {"1st", "x"}, {"a-b.c", "y"}}});
  CHECK(f[4] == "FLEET__PID=1");
  CHECK(f[5] == "FLEET_1ST=x");
  CHECK(f[6] == "A_B_C=y");
  // Values are passed as they are: journald stores any bytes, newlines included.
  CHECK(journal_fields(Event{Level::info, "c", "m", {{"v", "a\nb"}}})[4] == "V=a\nb");
}
