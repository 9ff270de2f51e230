#include "api/client.h"

namespace fleet::api {

Result<std::vector<Unit>> ApiClient::list_unit_summaries() { return list_units(); }

Result<std::vector<Status>> ApiClient::set_desired_states(
    const std::vector<std::pair<std::string, std::string>>& changes) {
  std::vector<Status> out;
  for (const auto& [name, state] : changes) out.push_back(set_desired_state(name, state));
  return out;
}

Result<std::vector<Status>> ApiClient::destroy_units(const std::vector<std::string>& names) {
  std::vector<Status> out;
  for (const auto& name : names) out.push_back(destroy_unit(name));
  return out;
}

Result<std::vector<Status>> ApiClient::create_units(const std::vector<Unit>& units) {
  std::vector<Status> out;
  for (const auto& u : units) out.push_back(create_unit(u));
  return out;
}

}  // namespace fleet::api
