#include "fleetd/config/reload.h"

#include <doctest/doctest.h>

using namespace fleet::fleetd;

TEST_CASE("a reload applies verbosity and token_limit and names what needs a restart") {
  Config running;
  Config fresh = running;
  auto same = plan_reload(running, fresh);
  CHECK(same.applied.empty());
  CHECK(same.need_restart.empty());

  fresh.verbosity = 2;
  fresh.token_limit = 500;
  fresh.metadata = {{"region", "eu"}};
  fresh.agent_ttl = std::chrono::seconds(60);
  auto plan = plan_reload(running, fresh);
  CHECK(plan.applied == std::vector<std::string>{"token_limit", "verbosity"});
  CHECK(plan.need_restart == std::vector<std::string>{"metadata", "agent_ttl"});
  CHECK(plan.next.verbosity == 2);
  CHECK(plan.next.token_limit == 500);
  CHECK(plan.next.metadata.empty());  // still the running value
  CHECK(plan.next.agent_ttl == running.agent_ttl);
}

TEST_CASE("only verbosity and token_limit are reloadable") {
  CHECK(reloadable_key("verbosity"));
  CHECK(reloadable_key("token_limit"));
  CHECK_FALSE(reloadable_key("metadata"));
  CHECK_FALSE(reloadable_key("api_listen"));
}
