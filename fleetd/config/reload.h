#pragma once
// What SIGHUP can change in a running fleetd. The configuration is re-read from every source
// (a bad one is refused and the running configuration kept); then
//   - verbosity (log level) and token_limit (API page size) take effect at once: they are read
//     per log line / per request, so swapping them cannot disturb work in flight;
//   - every other changed key is named in a warning: it needs a restart, because it is baked
//     into a live component (the agent's machine record and lease, the engine's lease, the
//     registry connection, the API's bound sockets and TLS context) that has no safe way to
//     swap it while units run.

#include <string>
#include <vector>

#include "fleetd/config/config.h"

namespace fleet::fleetd {

struct ReloadPlan {
  Config next;                            // the running config after the reload
  std::vector<std::string> applied;       // reloadable keys that changed, in help order
  std::vector<std::string> need_restart;  // changed keys that keep their running value
};

// The keys SIGHUP applies.
bool reloadable_key(std::string_view key);

// `next` is `running` with the reloadable keys taken from `fresh`.
ReloadPlan plan_reload(const Config& running, const Config& fresh);

}  // namespace fleet::fleetd
