#pragma once
// Human-readable failure explanations for the planner (implemented in planner_reasons.cpp).

#include <string>
#include <utility>
#include <vector>

#include "engine/detail/cluster_index.h"

namespace fleet::engine::detail {

// Why unit `u` cannot run on machine `m` (fleet's wording), e.g.
// `found conflict with locally-scheduled Unit(a.service)`.
std::string explain(const Index& ix, uint32_t u, uint32_t m, Check c);
// `role=web region=eu|us`: keys ANDed, values of one key separated by `|`.
std::string format_requirement(const Requirement& req);
// One sentence for a unit that failed on every candidate machine, e.g.
// `conflicts with apache.1.service on every machine (3 machines)`.
std::string summarize(const Index& ix, const Requirement& req,
                      const std::vector<std::pair<uint32_t, Check>>& failures);

}  // namespace fleet::engine::detail
