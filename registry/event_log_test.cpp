#include "registry/event_log.h"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>

#include "common/testing/run.h"
#include "registry/memory_kv.h"

using namespace fleet::registry;
using fleet::testing::run_sync;
using namespace std::chrono_literals;

namespace {

struct F {
  boost::asio::io_context io;
  MemoryKv kv{io.get_executor()};
  EventLog log{kv, "/fleet/"};

  template <typename T>
  T run(boost::asio::awaitable<T> a) {
    return run_sync(io, std::move(a));
  }
  std::vector<EventRecord> list(EventFilter f = {}) {
    auto r = run(log.list(std::move(f)));
    REQUIRE(r);
    return r.value().events;
  }
  std::vector<std::string> kinds(EventFilter f = {}) {
    std::vector<std::string> out;
    for (const auto& e : list(std::move(f))) out.push_back(e.kind + ":" + e.unit);
    return out;
  }
};

EventRecord ev(std::string kind, std::string unit, std::string machine = "m1") {
  return EventRecord{0, "", std::move(kind), std::move(unit), std::move(machine), "why"};
}

}  // namespace

TEST_CASE("events are listed in the order they were appended, filtered by unit and machine") {
  F f;
  REQUIRE(f.run(f.log.append({ev("scheduled", "a.service"), ev("started", "a.service")})));
  REQUIRE(f.run(f.log.append({ev("scheduled", "b.service", "m2")})));
  CHECK(f.kinds() == std::vector<std::string>{"scheduled:a.service", "started:a.service",
                                              "scheduled:b.service"});
  EventFilter by_unit;
  by_unit.units = {"b.service"};
  CHECK(f.kinds(by_unit) == std::vector<std::string>{"scheduled:b.service"});
  EventFilter by_machine;
  by_machine.machine = "m2";
  CHECK(f.kinds(by_machine) == std::vector<std::string>{"scheduled:b.service"});
  const auto all = f.list();
  CHECK(all[0].time.size() == 24);  // RFC 3339 with ms, filled in
  CHECK(all[0].reason == "why");
  CHECK(all[2].position > all[1].position);
  EventFilter after;
  after.after = all[1].position;
  CHECK(f.kinds(after) == std::vector<std::string>{"scheduled:b.service"});
  EventFilter newest;
  newest.limit = 2;
  CHECK(f.kinds(newest) == std::vector<std::string>{"started:a.service", "scheduled:b.service"});
  EventFilter future;
  future.since = std::chrono::system_clock::now() + 1h;
  CHECK(f.list(future).empty());
}

TEST_CASE("a watch delivers events written after a position, and from now on") {
  F f;
  REQUIRE(f.run(f.log.append({ev("submitted", "a.service")})));
  const auto first = f.list().at(0).position;
  REQUIRE(f.run(f.log.append({ev("scheduled", "a.service")})));
  auto resumed = f.log.watch(first);
  auto got = f.run(resumed->next());
  REQUIRE(got);
  REQUIRE(got.value().size() == 1);
  CHECK(got.value()[0].kind == "scheduled");
  auto live = f.log.watch(0);
  REQUIRE(f.run(f.log.append({ev("started", "a.service")})));
  got = f.run(live->next());
  REQUIRE(got);
  CHECK(got.value().at(0).kind == "started");
  CHECK(got.value().at(0).position > first);
}

TEST_CASE("trimming keeps the newest events within count and age") {
  F f;
  for (int i = 0; i < 30; ++i)
    REQUIRE(f.run(f.log.append({ev("started", "u" + std::to_string(i) + ".service")})));
  EventRetention keep;
  keep.max_count = 10;
  auto trimmed = f.run(f.log.trim(keep, std::chrono::system_clock::now()));
  REQUIRE(trimmed);
  CHECK(trimmed.value() == 20);
  auto left = f.list();
  REQUIRE(left.size() == 10);
  CHECK(left.front().unit == "u20.service");
  CHECK(left.back().unit == "u29.service");
  // Everything is older than a zero age.
  keep.max_age = 0s;
  trimmed = f.run(f.log.trim(keep, std::chrono::system_clock::now() + 1s));
  REQUIRE(trimmed);
  CHECK(trimmed.value() == 10);
  CHECK(f.list().empty());
}

TEST_CASE("a mass change is stored in few keys and read back event by event") {
  F f;
  std::vector<EventRecord> many;
  for (int i = 0; i < 450; ++i)
    many.push_back(ev("scheduled", "u" + std::to_string(i) + ".service"));
  REQUIRE(f.run(f.log.append(std::move(many))));
  RangeRequest keys;
  keys.key = "/fleet/events/";
  keys.range_end = prefix_end(keys.key);
  keys.count_only = true;
  auto n = f.run(f.kv.range(keys));
  REQUIRE(n);
  CHECK(n.value().count == 3);  // 200 + 200 + 50
  auto got = f.list();
  REQUIRE(got.size() == 450);
  CHECK(got.front().unit == "u0.service");
  CHECK(got.back().unit == "u449.service");
  EventFilter one;
  one.units = {"u321.service"};
  CHECK(f.kinds(one) == std::vector<std::string>{"scheduled:u321.service"});
  // Trimming by count removes whole keys, the oldest first, until no more than max_count remain.
  EventRetention keep;
  keep.max_count = 300;
  auto trimmed = f.run(f.log.trim(keep, std::chrono::system_clock::now()));
  REQUIRE(trimmed);
  CHECK(trimmed.value() == 200);
  got = f.list();
  REQUIRE(got.size() == 250);
  CHECK(got.front().unit == "u200.service");
}

TEST_CASE("an event stored one per key, as earlier versions wrote it, is still read") {
  F f;
  auto put = f.run(
      f.kv.put("/fleet/events/00000000000000000001-0000abcd",
               R"({"time":"2026-12-01T00:00:00.000Z","kind":"started","unit":"old.service"})"));
  REQUIRE(put);
  REQUIRE(f.run(f.log.append({ev("stopped", "old.service")})));
  CHECK(f.kinds() == std::vector<std::string>{"started:old.service", "stopped:old.service"});
  EventRetention keep;
  keep.max_count = 1;
  auto trimmed = f.run(f.log.trim(keep, std::chrono::system_clock::now()));
  REQUIRE(trimmed);
  CHECK(trimmed.value() == 1);
  CHECK(f.kinds() == std::vector<std::string>{"stopped:old.service"});
}

TEST_CASE("events survive a JSON round trip, and text that is not an event is refused") {
  EventRecord e{42, "2026-12-06T07:55:01.123Z", "unscheduled", "a.service", "m1", "machine lost"};
  auto back = event_from_json(to_json(e));
  REQUIRE(back);
  CHECK(back.value() == e);
  CHECK_FALSE(event_from_json("nope"));
  CHECK_FALSE(event_from_json("{}"));
}
