#pragma once
// The desired ("target") state of a unit, as fleet defines it. One definition for the whole project
// lives with the registry records; the engine uses it under its own name.

#include "registry/records.h"

namespace fleet::engine {

using registry::parse_target_state;
using registry::TargetState;
using registry::to_string;

}  // namespace fleet::engine
