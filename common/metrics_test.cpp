#include "common/metrics.h"

#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <string>

using namespace fleet::metrics;

namespace {
bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}
}  // namespace

TEST_CASE("every family is exposed with its help, series without labels from the start") {
  Metrics m("1.2.3");
  CHECK(has_line(m.render(), "fleet_engine_leader 0"));
  CHECK(has_line(m.render(), "fleet_agent_states_published_total 0"));
  for (const Family* f : all_families()) {
    if (f->type == Type::counter) m.add(*f, 1, {{"x", "y"}});
    if (f->type == Type::gauge) m.set(*f, 1, {{"x", "y"}});
    if (f->type == Type::histogram) m.observe(*f, 1, {{"x", "y"}});
  }
  const std::string text = m.render();
  for (const Family* f : all_families()) {
    CAPTURE(f->name);
    CHECK(has_line(text, "# HELP " + std::string(f->name) + " " + std::string(f->help)));
  }
  CHECK(has_line(text, "fleet_build_info{version=\"1.2.3\"} 1"));
  CHECK(text.find("process_cpu_seconds_total") != std::string::npos);
  CHECK(text.find("process_resident_memory_bytes") != std::string::npos);
  CHECK(text.find("process_open_fds") != std::string::npos);
}

TEST_CASE("counters only go up, advance_to follows a running total") {
  Metrics m("v");
  m.add(families::api_requests, 1, {{"code", "200"}});
  m.add(families::api_requests, 2, {{"code", "200"}});
  m.add(families::api_requests, -5, {{"code", "200"}});
  CHECK(m.value(families::api_requests, {{"code", "200"}}) == 3);
  m.advance_to(families::engine_passes, 10);
  m.advance_to(families::engine_passes, 4);  // the source restarted: the counter stays
  m.advance_to(families::engine_passes, 12);
  CHECK(m.value(families::engine_passes) == 12);
  CHECK(has_line(m.render(), "fleet_engine_reconcile_total 12"));
}

TEST_CASE("histograms count observations into the family's buckets") {
  Metrics m("v");
  const Labels l{{"route", "/fleet/v1/units"}, {"code", "200"}};
  m.observe(families::api_request_duration, 0.003, l);
  m.observe(families::api_request_duration, 0.2, l);
  CHECK(m.value(families::api_request_duration, l) == 2);
  const std::string text = m.render();
  CHECK(has_line(text,
                 "fleet_api_request_duration_seconds_bucket{code=\"200\",route=\"/fleet/v1/units\","
                 "le=\"0.005\"} 1"));
  CHECK(has_line(text,
                 "fleet_api_request_duration_seconds_bucket{code=\"200\",route=\"/fleet/v1/units\","
                 "le=\"+Inf\"} 2"));
}

TEST_CASE("a cleared gauge family loses its series, label values are escaped") {
  Metrics m("v");
  m.set(families::units, 3, {{"desired_state", "a\"b\\c\nd"}});
  CHECK(has_line(m.render(), "fleet_units{desired_state=\"a\\\"b\\\\c\\nd\"} 3"));
  m.clear(families::units);
  CHECK(m.render().find("fleet_units{") == std::string::npos);
  CHECK(m.value(families::units, {{"desired_state", "a\"b\\c\nd"}}) == 0);
}

TEST_CASE("a family used with the wrong call is left alone") {
  Metrics m("v");
  m.set(families::api_requests, 7);  // a counter: set() does nothing
  m.add(families::units, 1);         // a gauge: add() does nothing
  CHECK(m.value(families::api_requests) == 0);
  CHECK(m.value(families::units) == 0);
}

TEST_CASE("Documentation/monitoring.md lists every family") {
  std::ifstream in(FLEET_SOURCE_DIR "/Documentation/monitoring.md");
  REQUIRE(in);
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const Family* f : all_families()) {
    CAPTURE(f->name);
    CHECK(doc.find("`" + std::string(f->name) + "`") != std::string::npos);
  }
}

TEST_CASE("every family defined in metric_families.h is registered by all_families()") {
  // A family missing from all_families() records nothing, silently.
  std::ifstream in(FLEET_SOURCE_DIR "/common/metric_families.h");
  REQUIRE(in);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::size_t defined = 0;
  for (auto at = text.find("inline constexpr Family "); at != std::string::npos;
       at = text.find("inline constexpr Family ", at + 1))
    ++defined;
  CHECK(defined == all_families().size());
}
