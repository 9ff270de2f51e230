#include "common/metric_families.h"

namespace fleet::metrics {

std::span<const Family* const> all_families() {
  using namespace families;
  static constexpr const Family* kAll[] = {
      &api_requests,
      &api_request_duration,
      &api_registry_up,
      &units,
      &unit_states,
      &machines,
      &engine_leader,
      &engine_leader_start_time,
      &engine_passes,
      &engine_pass_duration,
      &engine_last_pass_duration,
      &engine_unschedulable,
      &agent_units,
      &agent_states_published,
      &agent_passes,
      &agent_task_failures,
      &registry_requests,
      &registry_request_duration,
      &build_info,
  };
  return kAll;
}

}  // namespace fleet::metrics
