#include "engine/target_state.h"

namespace fleet::engine {

std::string_view to_string(TargetState s) {
  switch (s) {
    case TargetState::inactive:
      return "inactive";
    case TargetState::loaded:
      return "loaded";
    case TargetState::launched:
      return "launched";
  }
  return "inactive";
}

std::optional<TargetState> parse_target_state(std::string_view s) {
  if (s == "inactive") return TargetState::inactive;
  if (s == "loaded") return TargetState::loaded;
  if (s == "launched") return TargetState::launched;
  return std::nullopt;
}

}  // namespace fleet::engine
