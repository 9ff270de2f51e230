#pragma once
// Waiting for units to reach a state after fleetctl changed them: polling the API once per
// interval, bounded by --block-attempts, and fleet's lines for each unit that gets there.

#include <string>
#include <string_view>
#include <vector>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

// --no-block → -1, --block-attempts=N (N > 0) → N, else 0 (wait without limit).
int block_attempts(const FlagValues& flags);

struct WaitFailure {
  std::string name;
  std::string message;
};

// Polls every unit still pending once per round, then sleeps; `attempts` (> 0) bounds the
// rounds at 8 per attempt, 0 waits without limit. A unit the engine reports as unschedulable
// fails after one full attempt instead of being waited on forever. Prints
// `Unit <n> <state>[ on <machine>]` as each unit arrives.
std::vector<WaitFailure> wait_states(CommandContext& ctx, const std::vector<std::string>& names,
                                     std::string_view state, int attempts);

// Waits until each unit's current state is `state` (desired state for global units), printing
// `Unit <n> <state>[ on <machine>]` as each arrives; with attempts -1 prints
// `Triggered unit <n> <verb>` instead. Returns the first error (also printed as
// `Error waiting for units: <err>`).
Status wait_for_unit_states(CommandContext& ctx, const std::vector<std::string>& names,
                            std::string_view verb, std::string_view state, int attempts);

// stop/unload's ending: waits for `names` to reach `state`, then reports on stderr
// `Successfully <past> units [..].` (exit 0) or `Failed to <verb> units [..]. err: <e>` (exit 1).
int wait_and_report(CommandContext& ctx, const std::vector<std::string>& names,
                    std::string_view verb, std::string_view past, std::string_view state);

// After `start`: waits until systemd reports each unit loaded+active. Prints each failure as
// `Error waiting for units: <err>`.
Status wait_for_systemd_active(CommandContext& ctx, const std::vector<std::string>& names,
                               int attempts);

// Go's fmt `%v` of a string slice: `[a b c]`.
std::string go_list(const std::vector<std::string>& v);

}  // namespace fleet::fleetctl
