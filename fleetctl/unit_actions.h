#pragma once
// What the unit commands share, one concern a header; commands include this one.
//   registered_units.h  finding the registered units the arguments name
//   unit_files.h        where a new unit's options come from: local files and templates
//   unit_creation.h     creating the units that are not registered yet
//   desired_states.h    changing desired states (one at a time or in one batch)
//   unit_waiting.h      waiting for units to reach a state, and fleet's lines meanwhile
//   machines.h          naming machines in output
//   unit_results.h      --format json: one object per unit instead of fleet's lines

#include "fleetctl/desired_states.h"
#include "fleetctl/machines.h"
#include "fleetctl/registered_units.h"
#include "fleetctl/unit_creation.h"
#include "fleetctl/unit_files.h"
#include "fleetctl/unit_results.h"
#include "fleetctl/unit_waiting.h"
