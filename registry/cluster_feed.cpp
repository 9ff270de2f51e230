#include "registry/cluster_feed.h"

#include "common/log.h"
#include "registry/codec.h"
#include "registry/key_layout.h"
#include "registry/reflector.h"

namespace fleet::registry {

namespace {

void warn_undecodable(const ParsedKey& p, const Error& e) {
  log::warn("registry", "undecodable record",
            {{"first", p.first}, {"second", p.second}, {"error", e.describe()}});
}

}  // namespace

std::optional<ClusterChange> decode_cluster_change(const KeyLayout& keys, const std::string& key,
                                                   const std::optional<std::string>& value,
                                                   Revision mod_revision) {
  auto p = keys.parse(key);
  if (!p) return std::nullopt;
  switch (p->kind) {
    case KeyKind::unit: {
      cluster::Unit c{p->first, std::nullopt};
      if (!value) return c;
      if (auto u = decode_unit(p->first, *value)) {
        u.value().mod_revision = mod_revision;
        c.record = std::move(u).value();
      } else {
        warn_undecodable(*p, u.error());  // forgotten: a unit we cannot read is not scheduled
      }
      return c;
    }
    case KeyKind::content:
      return cluster::Content{p->first, value, mod_revision};
    case KeyKind::machine: {
      cluster::Machine c{p->first, std::nullopt};
      if (!value) return c;
      auto m = decode_machine(p->first, *value);
      if (!m) {
        warn_undecodable(*p, m.error());
        return std::nullopt;
      }
      c.record = std::move(m).value();
      return c;
    }
    case KeyKind::metadata:
      return cluster::Metadata{p->first, p->second, value};
    case KeyKind::schedule:
      return cluster::Schedule{p->first, value};
    case KeyKind::assignment: {
      cluster::Assigned c{p->second, p->first, std::nullopt};
      if (!value) return c;
      auto a = decode_assignment(p->first, p->second, *value);
      if (!a) {
        warn_undecodable(*p, a.error());
        return std::nullopt;
      }
      c.assignment = std::move(a).value();
      return c;
    }
    case KeyKind::reason:
      return cluster::Reason{p->first, value};
    case KeyKind::maintenance: {
      cluster::MaintenanceSet c{p->first, std::nullopt};
      if (!value) return c;
      if (auto m = decode_maintenance(p->first, *value))
        c.maintenance = m.value();
      else
        warn_undecodable(*p, m.error());
      return c;
    }
    case KeyKind::state: {
      cluster::State c{p->first, p->second, std::nullopt};
      if (!value) return c;
      auto st = decode_state(p->first, p->second, *value);
      if (!st) {
        warn_undecodable(*p, st.error());
        return std::nullopt;
      }
      c.state = std::move(st).value();
      return c;
    }
    case KeyKind::reboot_rollout: {
      cluster::Rollout c;
      if (!value) return c;
      if (auto r = decode_reboot_rollout(*value)) {
        r.value().mod_revision = mod_revision;
        c.rollout = std::move(r).value();
      } else {
        warn_undecodable(*p, r.error());
      }
      return c;
    }
    case KeyKind::reboot_lock: {
      cluster::Lock c;
      if (!value) return c;
      auto l = decode_reboot_lock(*value);
      if (!l) {
        warn_undecodable(*p, l.error());
        return std::nullopt;
      }
      c.lock = std::move(l).value();
      c.lock->mod_revision = mod_revision;
      return c;
    }
    case KeyKind::unit_rollout: {
      cluster::UnitRolloutSet c{p->first, std::nullopt};
      if (!value) return c;
      auto r = decode_unit_rollout(*value);
      if (!r) {
        warn_undecodable(*p, r.error());
        return std::nullopt;
      }
      c.rollout = std::move(r).value();
      c.rollout->mod_revision = mod_revision;
      return c;
    }
    case KeyKind::reboot_request:
    case KeyKind::leader:
      return std::nullopt;
  }
  return std::nullopt;
}

ClusterFeed::ClusterFeed(KvStore& kv, const KeyLayout& keys)
    : keys_(keys), reflector_(std::make_unique<Reflector>(kv, keys.prefix())) {}

ClusterFeed::~ClusterFeed() = default;

Task<Result<ClusterBatch>> ClusterFeed::next() {
  auto batch = co_await reflector_->next();
  if (!batch) co_return batch.error();
  ClusterBatch out;
  out.initial = batch.value().kind == ReflectorBatch::Kind::initial;
  out.changes.reserve(batch.value().changes.size());
  for (const auto& c : batch.value().changes) {
    std::optional<std::string> value;
    if (c.type == Change::Type::put) value = c.kv.value;
    if (auto typed = decode_cluster_change(keys_, c.kv.key, value, c.kv.mod_revision))
      out.changes.push_back(std::move(*typed));
  }
  co_return out;
}

void ClusterFeed::cancel() { reflector_->cancel(); }

bool ClusterFeed::synced() const { return reflector_->synced(); }

}  // namespace fleet::registry
