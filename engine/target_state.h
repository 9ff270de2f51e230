#pragma once
// The desired ("target") state of a unit, fleet §2.1. Lives in engine/ for now; the lead may move
// it to a shared folder once registry records need it too.

#include <optional>
#include <string_view>

namespace fleet::engine {

enum class TargetState { inactive, loaded, launched };

std::string_view to_string(TargetState s);
// Accepts exactly fleet's spellings `inactive`, `loaded`, `launched`; nullopt otherwise.
std::optional<TargetState> parse_target_state(std::string_view s);

}  // namespace fleet::engine
