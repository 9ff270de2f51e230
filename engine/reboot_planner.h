#pragma once
// Rolling reboots (fleetctl reboot), decided step by step by the engine leader: which host to
// take next under the reboot semaphore, when a drained host is asked to reboot, when it is back
// (a new boot ID under the same machine ID), and when the rollout must stop. Pure: the caller
// reads the state from its model and writes the decision in one fenced compare-and-swap txn, so
// a rollout goes on across engine hand-overs and without the fleetctl that started it.
//
// Rules:
// * Hosts are taken in the rollout's order while fewer than max_unavailable of its hosts are in
//   maintenance and the semaphore has a free slot (external holders count). Taking a host: it
//   takes a slot and is drained (cordoned, its units moved away).
// * A drained host is asked to reboot from its current boot. A host that goes down while
//   draining counts as rebooting.
// * A host is back when it is up with another boot ID: its drain is lifted and its slot freed.
// * A host that is not drained, or not back, within timeout_s fails; so does a host that is not
//   up when its turn comes. A failure stops the rollout and keeps that host's slot and drain:
//   no further host goes down while one is lost.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "registry/records.h"

namespace fleet::engine {

struct RebootMachine {
  std::string boot_id;
  bool drained = false;  // no unit that could leave is scheduled or running there
};

struct RebootView {
  registry::RebootRollout rollout;
  registry::RebootLock lock;
  std::map<std::string, RebootMachine> machines;  // machines that are up
  std::int64_t now = 0;                           // Unix seconds
};

struct RebootDecision {
  registry::RebootRollout rollout;
  registry::RebootLock lock;
  std::map<std::string, registry::Maintenance> maintenance;    // mode none: lift
  std::map<std::string, std::optional<std::string>> requests;  // boot to leave, or withdraw
  std::vector<std::string> events;                             // one log line each
  bool changed = false;
};

RebootDecision plan_reboots(const RebootView& v);

}  // namespace fleet::engine
