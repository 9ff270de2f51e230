#pragma once
// ClusterFeed: the whole cluster state as typed changes, for the engine leader's model. A
// Reflector over the registry prefix underneath (list, then watch, re-list after compaction), so
// the engine never sees a key or a codec; ClusterChange is also how the engine applies its own
// writes to its model before their echo arrives (ScheduleBatch::changes()).
//
// Single consumer on the store's loop, like Reflector.

#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "registry/kv.h"
#include "registry/records.h"

namespace fleet::registry {

class KeyLayout;
class Reflector;

// One record of the cluster changed. A nullopt value: the record was deleted, or its new value
// could not be read where a reader must forget the old one (logged).
namespace cluster {
struct Unit {
  std::string name;
  std::optional<UnitRecord> record;  // mod_revision filled
};
struct Content {
  std::string hash;
  std::optional<std::string> text;
  Revision mod_revision = 0;
};
struct Machine {
  std::string id;
  std::optional<MachineRecord> record;
};
struct Metadata {
  std::string machine;
  std::string key;
  std::optional<std::string> value;
};
struct Schedule {
  std::string unit;
  std::optional<std::string> machine;
};
struct Assigned {
  std::string machine;
  std::string unit;
  std::optional<Assignment> assignment;
};
struct Reason {
  std::string unit;
  std::optional<std::string> reason;
};
struct MaintenanceSet {
  std::string machine;
  std::optional<Maintenance> maintenance;
};
struct State {
  std::string unit;
  std::string machine;
  std::optional<UnitStateRecord> state;
};
struct Rollout {
  std::optional<RebootRollout> rollout;  // mod_revision filled
};
struct Lock {
  std::optional<RebootLock> lock;  // mod_revision filled
};
struct UnitRolloutSet {
  std::string name;
  std::optional<UnitRollout> rollout;  // mod_revision filled
};
}  // namespace cluster

using ClusterChange =
    std::variant<cluster::Unit, cluster::Content, cluster::Machine, cluster::Metadata,
                 cluster::Schedule, cluster::Assigned, cluster::Reason, cluster::MaintenanceSet,
                 cluster::State, cluster::Rollout, cluster::Lock, cluster::UnitRolloutSet>;

struct ClusterBatch {
  bool initial = false;  // the first listing: every record
  std::vector<ClusterChange> changes;
};

// The typed change a put (`value` set) or deletion of `key` makes; nullopt for keys outside the
// layout, for records the engine does not follow (leader, reboot requests), and for undecodable
// values that leave the old record standing.
std::optional<ClusterChange> decode_cluster_change(const KeyLayout& keys, const std::string& key,
                                                   const std::optional<std::string>& value,
                                                   Revision mod_revision);

class ClusterFeed {
 public:
  ClusterFeed(KvStore& kv, const KeyLayout& keys);
  ~ClusterFeed();
  ClusterFeed(const ClusterFeed&) = delete;
  ClusterFeed& operator=(const ClusterFeed&) = delete;

  // The next changes (the first call: every record, `initial` set). An update may carry no
  // change when every key it touched is one the feed skips. Fails only with Errc::cancelled, as
  // Reflector::next().
  Task<Result<ClusterBatch>> next();
  void cancel();
  // True once the first listing arrived.
  bool synced() const;

 private:
  const KeyLayout& keys_;
  std::unique_ptr<Reflector> reflector_;
};

}  // namespace fleet::registry
