#pragma once
// AssignmentFeed: one machine's assignments as typed changes, for its agent. A Reflector over
// assign/<machine>/ underneath (list, then watch, re-list after compaction), so the agent never
// sees a key or a codec.
//
// Single consumer on the store's loop, like Reflector.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "registry/kv.h"
#include "registry/records.h"

namespace fleet::registry {

class KeyLayout;
class Reflector;

struct AssignmentChange {
  std::string unit;                      // empty for a reboot request
  std::optional<Assignment> assignment;  // nullopt: no longer assigned to this machine
  // A rolling reboot asks this machine to reboot from the boot with this ID (empty `unit`);
  // nullopt with an empty `unit`: the request was withdrawn.
  std::optional<std::string> reboot_from = {};
};

class AssignmentFeed {
 public:
  AssignmentFeed(KvStore& kv, const KeyLayout& keys, std::string machine);
  ~AssignmentFeed();
  AssignmentFeed(const AssignmentFeed&) = delete;
  AssignmentFeed& operator=(const AssignmentFeed&) = delete;

  // The next changes (the first call: every assignment). An undecodable value is logged and
  // skipped. Fails only with Errc::cancelled, as Reflector::next().
  Task<Result<std::vector<AssignmentChange>>> next();
  void cancel();
  // True once the first listing arrived.
  bool synced() const;

 private:
  const KeyLayout& keys_;
  std::string machine_;
  std::unique_ptr<Reflector> reflector_;
};

}  // namespace fleet::registry
