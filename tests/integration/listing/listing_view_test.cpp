// An etcd-backed fleetd serves its listings from its ClusterView (registry/cluster_view.h) and
// still shows every write that finished before a listing began, made by any client: here
// another etcd client, playing another fleetd.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "api/http_client.h"
#include "api/server/api_context.h"
#include "common/testing/temp_dir.h"
#include "fleetd/testing/in_process_fleetd.h"
#include "registry/cluster_view.h"
#include "registry/registry.h"
#include "registry/testing/raw_keys.h"
#include "tests/harness/wait.h"
#include "tests/integration/etcd/etcd_fixture.h"

using namespace fleet;
using namespace std::chrono_literals;

namespace {

constexpr const char* kPrefix = "/listing-view/";

struct Env {
  Env() {
    fleetd::testing::InProcessOptions o;
    o.dir = dir.path.string();
    o.agent = false;  // states are written below, as agents would
    o.engine = false;
    o.key_prefix = kPrefix;
    o.token_limit = 7;  // several pages per listing
    o.etcd_endpoints = other.etcd.endpoints();
    fleetd = std::make_unique<fleetd::testing::InProcessFleetd>(o);
    REQUIRE(fleetd->start().has_value());
    auto c = api::HttpApiClient::create(api::HttpClientOptions{
        api::parse_endpoint(fleetd->unix_endpoint()).value(), "", "", "", 30s});
    REQUIRE(c.has_value());
    client = std::move(c).value();
  }
  ~Env() { fleetd->stop(); }

  registry::ClusterView::Counters counters() {
    return fleetd->on_loop([this] { return fleetd->api().view->counters(); });
  }
  bool view_listed() {
    return fleetd->on_loop([this] { return fleetd->api().view->revision() != 0; });
  }
  void create(const std::string& name) {
    registry::UnitRecord rec{name, "", registry::TargetState::launched, 0};
    const std::string text = "[Service]\nExecStart=/bin/sleep " + name + "\n";
    rec.hash = std::to_string(std::hash<std::string>{}(text));
    REQUIRE(other.run(reg.create_unit(rec, text)).has_value());
  }
  std::vector<std::string> listed_names() {
    auto units = client->list_units();
    REQUIRE(units.has_value());
    std::vector<std::string> out;
    for (const auto& u : units.value()) out.push_back(u.name);
    return out;
  }

  fleet::testing::EtcdFixture other;  // etcd, and a client of it on this thread
  registry::Registry reg{*other.kv, kPrefix};
  fleet::testing::TempDir dir{"listing-view"};
  std::unique_ptr<fleetd::testing::InProcessFleetd> fleetd;
  std::unique_ptr<api::ApiClient> client;
};

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

}  // namespace

TEST_CASE("an etcd-backed fleetd lists from its view what another client wrote just before") {
  Env e;
  for (int i = 0; i < 20; ++i) e.create("pre-" + std::to_string(i) + ".service");
  CHECK(e.listed_names().size() == 20);  // read directly: the view starts now
  REQUIRE(fleet::testing::wait_until([&] { return e.view_listed(); }, 10s));
  const auto before = e.counters();

  std::vector<std::string> expected = e.listed_names();
  for (int i = 0; i < 15; ++i) {
    // A write through another client, then at once a listing through this fleetd.
    const std::string name = "new-" + std::to_string(i) + ".service";
    e.create(name);
    auto names = e.listed_names();
    CHECK(contains(names, name));
    CHECK(names.size() == expected.size() + 1);
    expected = names;

    const std::string gone = "pre-" + std::to_string(i) + ".service";
    REQUIRE(e.other.run(e.reg.destroy_unit(gone)).has_value());
    CHECK_FALSE(contains(e.listed_names(), gone));
    expected.erase(std::find(expected.begin(), expected.end(), gone));

    std::vector<registry::UnitStateRecord> st{
        {name, "m" + std::to_string(i), "h", "loaded", "active", "running"}};
    REQUIRE(e.other.run(e.reg.put_states(st, 0)).has_value());
    auto states = e.client->list_unit_states();
    REQUIRE(states.has_value());
    CHECK(std::any_of(states.value().begin(), states.value().end(),
                      [&](const api::UnitState& s) { return s.name == name; }));
  }
  const auto after = e.counters();
  // Served from the view; a read that found it behind for longer than catch_up on a busy
  // machine read directly, which is allowed but must stay the exception.
  CHECK(after.served - before.served >= 30);
  CHECK(after.starts == 1);
  MESSAGE("served " << after.served - before.served << ", read directly "
                    << after.unserved - before.unserved << ", store checks "
                    << after.checks - before.checks);
}

TEST_CASE("an etcd-backed fleetd's view serves while other users of its etcd write elsewhere") {
  Env e;
  e.create("a.service");
  e.listed_names();
  REQUIRE(fleet::testing::wait_until([&] { return e.view_listed(); }, 10s));
  const auto before = e.counters();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(e.other.run(e.other.kv->put("/someone-else/" + std::to_string(i), "x")).has_value());
    CHECK(e.listed_names() == std::vector<std::string>{"a.service"});
  }
  e.create("b.service");
  CHECK(e.listed_names() == std::vector<std::string>{"a.service", "b.service"});
  const auto after = e.counters();
  CHECK(after.served - before.served == 6);
  CHECK(after.unserved == before.unserved);
}
