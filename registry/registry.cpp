#include "registry/registry.h"

#include <algorithm>
#include <map>
#include <set>
#include <string_view>

#include "common/log.h"
#include "registry/codec.h"
#include "registry/key_layout.h"

namespace fleet::registry {

// Txns of one batch in flight at once (run_txns; see apply()).
constexpr std::size_t kTxnsInFlight = 8;
// The engine's plan writes (apply()): more at once than other batches, since placements wait
// on them while every agent taking a unit writes its states to the same etcd. With 8 the
// engine's txns queued behind the agents' writes; at 100,000 units on 5,000 agents 24 cut the
// rescheduling of 10,000 units from 12.3 to 5.7 s (Documentation/performance.md). It stays
// below EtcdConfig::max_in_flight (32) so the agent and API of the same fleetd still get slots.
constexpr std::size_t kPlanTxnsInFlight = 24;
// Key and value bytes in one of the engine's txns (apply()).
constexpr std::size_t kApplyTxnBytes = 768 * 1024;

void ScheduleBatch::compact() {
  if (compacted_) return;
  compacted_ = true;
  std::vector<std::size_t> order(ops_.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ops_[a].key < ops_[b].key; });
  std::vector<bool> dropped(ops_.size(), false);
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i + 1;
    while (j < order.size() && ops_[order[j]].key == ops_[order[i]].key) ++j;
    if (j - i > 1) {  // the first place, the last write
      ops_[order[i]] = std::move(ops_[order[j - 1]]);
      for (std::size_t k = i + 1; k < j; ++k) dropped[order[k]] = true;
    }
    i = j;
  }
  std::size_t out = 0;
  for (std::size_t i = 0; i < ops_.size(); ++i) {
    if (dropped[i]) continue;
    if (out != i) ops_[out] = std::move(ops_[i]);
    ++out;
  }
  ops_.resize(out);
}

std::vector<ClusterChange> ScheduleBatch::changes() {
  compact();
  std::vector<ClusterChange> out;
  out.reserve(ops_.size());
  for (const auto& op : ops_) {
    std::optional<std::string> value;
    if (op.kind == Op::Kind::put) value = op.value;
    if (auto c = decode_cluster_change(*keys_, op.key, value, 0)) out.push_back(std::move(*c));
  }
  return out;
}

std::vector<ScheduleBatch> ScheduleBatch::split(std::size_t max_ops) {
  compact();
  std::vector<ScheduleBatch> parts;
  max_ops = std::max<std::size_t>(1, max_ops);
  for (std::size_t i = 0; i < ops_.size(); i += max_ops) {
    ScheduleBatch part(*keys_);
    const std::size_t end = std::min(ops_.size(), i + max_ops);
    part.ops_.reserve(end - i);
    for (std::size_t j = i; j < end; ++j) part.ops_.push_back(std::move(ops_[j]));
    parts.push_back(std::move(part));
  }
  ops_.clear();
  return parts;
}

void ScheduleBatch::schedule(const std::string& unit, const std::string& machine) {
  add(Op::put(keys_->schedule(unit), machine));
}
void ScheduleBatch::unschedule(const std::string& unit) { add(Op::del(keys_->schedule(unit))); }
void ScheduleBatch::assign(const Assignment& a) {
  add(Op::put(keys_->assignment(a.machine, a.unit), encode(a)));
}
void ScheduleBatch::unassign(const std::string& machine, const std::string& unit) {
  add(Op::del(keys_->assignment(machine, unit)));
}
void ScheduleBatch::set_reason(const std::string& unit, const std::string& reason) {
  add(Op::put(keys_->reason(unit), reason));
}
void ScheduleBatch::clear_reason(const std::string& unit) { add(Op::del(keys_->reason(unit))); }
void ScheduleBatch::delete_content(const std::string& hash) { add(Op::del(keys_->content(hash))); }

Task<Result<RangeResponse>> Registry::range_prefix(const std::string& prefix) {
  RangeRequest req;
  req.key = prefix;
  req.range_end = prefix_end(prefix);
  co_return co_await kv_.range(std::move(req));
}

Task<Result<std::optional<UnitRecord>>> Registry::get_unit(std::string name) {
  RangeRequest req;
  req.key = keys_.unit(name);
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.range(std::move(req)));
  if (resp.kvs.empty()) co_return std::optional<UnitRecord>();
  BOOST_OUTCOME_CO_TRY(auto u, decode_unit(name, resp.kvs[0].value));
  u.mod_revision = resp.kvs[0].mod_revision;
  co_return std::optional<UnitRecord>(std::move(u));
}

Task<Result<std::vector<UnitRecord>>> Registry::list_units() {
  BOOST_OUTCOME_CO_TRY(auto resp, co_await range_prefix(keys_.units()));
  std::vector<UnitRecord> out;
  out.reserve(resp.kvs.size());
  for (const auto& kv : resp.kvs) {
    auto parsed = keys_.parse(kv.key);
    if (!parsed || parsed->kind != KeyKind::unit) continue;
    auto u = decode_unit(parsed->first, kv.value);
    if (!u) continue;  // a record we cannot read is skipped, as fleet does
    u.value().mod_revision = kv.mod_revision;
    out.push_back(std::move(u).value());
  }
  co_return out;
}

Task<Result<std::string>> Registry::get_content(std::string hash) {
  RangeRequest req;
  req.key = keys_.content(hash);
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.range(std::move(req)));
  if (resp.kvs.empty()) co_return fail(Errc::not_found, "no unit content with hash " + hash);
  co_return std::move(resp.kvs[0].value);
}

Task<Result<std::map<std::string, std::string>>> Registry::get_contents(
    std::vector<std::string> hashes) {
  std::sort(hashes.begin(), hashes.end());
  hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
  std::map<std::string, std::string> out;
  const std::size_t per_txn = std::max<std::size_t>(1, kv_.max_txn_ops());
  for (std::size_t i = 0; i < hashes.size(); i += per_txn) {
    const std::size_t end = std::min(hashes.size(), i + per_txn);
    TxnRequest txn;
    for (std::size_t j = i; j < end; ++j) txn.success.push_back(Op::get(keys_.content(hashes[j])));
    BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
    for (std::size_t j = i; j < end && j - i < resp.results.size(); ++j) {
      auto& kvs = resp.results[j - i].range.kvs;
      if (!kvs.empty()) out.emplace(hashes[j], std::move(kvs[0].value));
    }
  }
  co_return out;
}

Task<Status> Registry::create_unit(UnitRecord unit, std::string content) {
  TxnRequest txn;
  txn.compare.push_back(Compare::absent(keys_.unit(unit.name)));
  // Writing the content unconditionally bumps its mod_revision, which makes a concurrent
  // garbage collection of that content (fenced on its mod_revision) fail instead of racing.
  txn.success.push_back(Op::put(keys_.content(unit.hash), std::move(content)));
  txn.success.push_back(Op::put(keys_.unit(unit.name), encode(unit)));
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (!resp.succeeded)
    co_return fail(Errc::already_exists, "unit " + unit.name + " already exists");
  co_return ok();
}

Task<Status> Registry::replace_unit(const UnitRecord& expected, UnitRecord unit,
                                    std::string content) {
  TxnRequest txn;
  txn.compare.push_back(Compare::mod_revision_is(keys_.unit(unit.name), expected.mod_revision));
  txn.success.push_back(Op::put(keys_.content(unit.hash), std::move(content)));
  txn.success.push_back(Op::put(keys_.unit(unit.name), encode(unit)));
  txn.failure.push_back(Op::get(keys_.unit(unit.name)));
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (resp.succeeded) co_return ok();
  if (resp.results.empty() || resp.results[0].range.kvs.empty())
    co_return fail(Errc::not_found, "unit " + unit.name + " does not exist");
  co_return fail(Errc::conflict, "unit " + unit.name + " changed concurrently");
}

Task<Status> Registry::set_desired_state(std::string name, TargetState desired) {
  BOOST_OUTCOME_CO_TRY(auto cur, co_await get_unit(name));
  if (!cur) co_return fail(Errc::not_found, "unit " + name + " does not exist");
  co_return co_await set_desired_state(std::move(*cur), desired);
}

Task<Status> Registry::set_desired_state(UnitRecord current, TargetState desired) {
  // Compare-and-swap on the record as read; a concurrent writer makes us re-read.
  std::optional<UnitRecord> cur = std::move(current);
  for (int attempt = 0; attempt < 8; ++attempt) {
    if (attempt > 0) {
      BOOST_OUTCOME_CO_TRY(cur, co_await get_unit(cur->name));
      if (!cur) co_return fail(Errc::not_found, "unit does not exist");
    }
    if (cur->desired == desired) co_return ok();
    UnitRecord next = *cur;
    next.desired = desired;
    TxnRequest txn;
    txn.compare.push_back(Compare::mod_revision_is(keys_.unit(cur->name), cur->mod_revision));
    txn.success.push_back(Op::put(keys_.unit(cur->name), encode(next)));
    BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
    if (resp.succeeded) co_return ok();
  }
  co_return fail(Errc::conflict, "unit " + cur->name + " kept changing concurrently");
}

Task<Status> Registry::destroy_unit(std::string name) {
  BOOST_OUTCOME_CO_TRY(auto n, co_await kv_.del(keys_.unit(name)));
  if (n == 0) co_return fail(Errc::not_found, "unit " + name + " does not exist");
  co_return ok();
}

namespace {

// Indexes of the first occurrence of each distinct name, and for every entry its first one.
template <class Name>
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> distinct(
    const std::vector<Name>& names) {
  std::map<std::string_view, std::size_t> first;
  std::vector<std::size_t> unique, first_of(names.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    auto [it, fresh] = first.emplace(names[i], i);
    if (fresh) unique.push_back(i);
    first_of[i] = it->second;
  }
  return {std::move(unique), std::move(first_of)};
}

}  // namespace

Task<std::vector<Status>> Registry::set_desired_states(
    std::vector<std::pair<std::string, TargetState>> changes) {
  std::vector<std::string> names;
  for (const auto& c : changes) names.push_back(c.first);
  // (no structured bindings: GCC 12 coroutines mishandle them)
  const auto groups = distinct(names);
  const auto& unique = groups.first;
  const auto& first_of = groups.second;
  std::vector<Status> out(changes.size(), Status(ok()));
  std::vector<std::optional<UnitRecord>> current(changes.size());
  const std::size_t per_txn = std::max<std::size_t>(1, kv_.max_txn_ops());

  std::vector<TxnRequest> reads;
  for (std::size_t i = 0; i < unique.size(); i += per_txn) {
    TxnRequest txn;
    for (std::size_t j = i; j < std::min(unique.size(), i + per_txn); ++j)
      txn.success.push_back(Op::get(keys_.unit(names[unique[j]])));
    reads.push_back(std::move(txn));
  }
  auto read = co_await run_txns(kv_, std::move(reads), kTxnsInFlight);
  for (std::size_t k = 0; k < unique.size(); ++k) {
    const std::size_t u = unique[k];
    const auto& resp = read[k / per_txn];
    if (!resp) {
      out[u] = outcome::failure(resp.error());
      continue;
    }
    const auto& kvs = resp.value().results.at(k % per_txn).range.kvs;
    if (kvs.empty()) {
      out[u] = fail(Errc::not_found, "unit " + names[u] + " does not exist");
      continue;
    }
    auto rec = decode_unit(names[u], kvs[0].value);
    if (!rec) {
      out[u] = outcome::failure(rec.error());
      continue;
    }
    rec.value().mod_revision = kvs[0].mod_revision;
    current[u] = std::move(rec).value();
  }

  std::vector<std::size_t> to_write;
  for (auto u : unique)
    if (current[u] && current[u]->desired != changes[u].second) to_write.push_back(u);
  std::vector<TxnRequest> writes;
  for (std::size_t i = 0; i < to_write.size(); i += per_txn) {
    TxnRequest txn;
    for (std::size_t j = i; j < std::min(to_write.size(), i + per_txn); ++j) {
      const UnitRecord& cur = *current[to_write[j]];
      UnitRecord next = cur;
      next.desired = changes[to_write[j]].second;
      txn.compare.push_back(Compare::mod_revision_is(keys_.unit(cur.name), cur.mod_revision));
      txn.success.push_back(Op::put(keys_.unit(cur.name), encode(next)));
    }
    writes.push_back(std::move(txn));
  }
  auto written = co_await run_txns(kv_, std::move(writes), kTxnsInFlight);
  for (std::size_t k = 0; k < to_write.size(); ++k) {
    const std::size_t u = to_write[k];
    const auto& resp = written[k / per_txn];
    if (!resp)
      out[u] = outcome::failure(resp.error());
    else if (!resp.value().succeeded)  // someone changed one of them meanwhile: each on its own
      out[u] = co_await set_desired_state(*current[u], changes[u].second);
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (first_of[i] != i) out[i] = out[first_of[i]];
  co_return out;
}

Task<std::vector<Status>> Registry::destroy_units(std::vector<std::string> names) {
  const auto groups = distinct(names);
  const auto& unique = groups.first;
  const auto& first_of = groups.second;
  std::vector<Status> out(names.size(), Status(ok()));
  const std::size_t per_txn = std::max<std::size_t>(1, kv_.max_txn_ops());
  std::vector<TxnRequest> txns;
  for (std::size_t i = 0; i < unique.size(); i += per_txn) {
    TxnRequest txn;
    for (std::size_t j = i; j < std::min(unique.size(), i + per_txn); ++j)
      txn.success.push_back(Op::del(keys_.unit(names[unique[j]])));
    txns.push_back(std::move(txn));
  }
  auto results = co_await run_txns(kv_, std::move(txns), kTxnsInFlight);
  for (std::size_t k = 0; k < unique.size(); ++k) {
    const std::size_t u = unique[k];
    const auto& resp = results[k / per_txn];
    if (!resp)
      out[u] = outcome::failure(resp.error());
    else if (resp.value().results.at(k % per_txn).deleted == 0)
      out[u] = fail(Errc::not_found, "unit " + names[u] + " does not exist");
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (first_of[i] != i) out[i] = out[first_of[i]];
  co_return out;
}

namespace {

// Content bytes in one creating txn: etcd refuses requests over --max-request-bytes (1.5 MiB by
// default); a single larger unit still goes alone, and fails as create_unit would.
constexpr std::size_t kCreateTxnBytes = 1024 * 1024;

}  // namespace

Task<std::vector<Status>> Registry::create_units(
    std::vector<std::pair<UnitRecord, std::string>> units) {
  std::vector<Status> out(units.size(), Status(ok()));
  // Each unit takes a compare and two puts (content, record): half a txn's ops per unit.
  const std::size_t per_txn = std::max<std::size_t>(1, kv_.max_txn_ops() / 2);
  std::vector<std::pair<std::size_t, std::size_t>> chunks;  // [begin, end) of each txn
  std::vector<TxnRequest> txns;
  for (std::size_t i = 0; i < units.size();) {
    // No name twice in one chunk (etcd refuses a txn naming a key twice; the second copy then
    // starts the next chunk and finds its name taken). Units of one content (template
    // instances) write it once.
    std::set<std::string_view> names, hashes;
    std::size_t end = i, bytes = 0;
    TxnRequest txn;
    while (end < units.size() && end - i < per_txn && !names.contains(units[end].first.name) &&
           (end == i || bytes + units[end].second.size() <= kCreateTxnBytes)) {
      const UnitRecord& rec = units[end].first;
      names.insert(rec.name);
      bytes += units[end].second.size();
      txn.compare.push_back(Compare::absent(keys_.unit(rec.name)));
      if (hashes.insert(rec.hash).second)
        txn.success.push_back(Op::put(keys_.content(rec.hash), units[end].second));
      txn.success.push_back(Op::put(keys_.unit(rec.name), encode(rec)));
      ++end;
    }
    chunks.emplace_back(i, end);
    txns.push_back(std::move(txn));
    i = end;
  }
  // A name given twice: chunks in order, each settled before the next, so the copy finds the
  // first one written (and fails alone). Otherwise all chunks at once.
  bool repeated = false;
  std::set<std::string_view> all;
  for (const auto& u : units) repeated = !all.insert(u.first.name).second || repeated;
  std::vector<std::optional<Result<TxnResponse>>> results(txns.size());
  if (!repeated) {
    auto answers = co_await run_txns(kv_, std::move(txns), kTxnsInFlight);
    for (std::size_t c = 0; c < answers.size(); ++c) results[c].emplace(std::move(answers[c]));
  }
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    if (!results[c]) {
      TxnRequest txn = std::move(txns[c]);
      results[c].emplace(co_await kv_.txn(std::move(txn)));
    }
    const std::size_t begin = chunks[c].first, end = chunks[c].second;
    auto& resp = *results[c];
    if (!resp) {
      for (std::size_t j = begin; j < end; ++j) out[j] = outcome::failure(resp.error());
    } else if (!resp.value().succeeded) {  // some name is taken: each on its own
      for (std::size_t j = begin; j < end; ++j)
        out[j] = co_await create_unit(units[j].first, std::move(units[j].second));
    }
  }
  co_return out;
}

Task<Status> Registry::put_machine(const MachineRecord& m, LeaseId lease) {
  BOOST_OUTCOME_CO_TRY(co_await kv_.put(keys_.machine(m.id), encode(m), lease));
  co_return ok();
}

Task<Status> Registry::claim_machine(const MachineRecord& m, LeaseId lease) {
  const std::string key = keys_.machine(m.id);
  const std::string value = encode(m);
  TxnRequest create;
  create.compare.push_back(Compare::absent(key));
  create.success.push_back(Op::put(key, value, lease));
  BOOST_OUTCOME_CO_TRY(auto created, co_await kv_.txn(std::move(create)));
  if (created.succeeded) co_return ok();
  TxnRequest refresh;
  refresh.compare.push_back(Compare::lease_is(key, lease));
  refresh.success.push_back(Op::put(key, value, lease));
  BOOST_OUTCOME_CO_TRY(auto refreshed, co_await kv_.txn(std::move(refresh)));
  if (refreshed.succeeded) co_return ok();
  co_return fail(Errc::already_exists,
                 "machine " + m.id + " is registered by another live fleetd (same machine ID)");
}

Task<Result<std::vector<MachineRecord>>> Registry::list_machines() {
  BOOST_OUTCOME_CO_TRY(auto machines, co_await range_prefix(keys_.machines()));
  BOOST_OUTCOME_CO_TRY(auto meta, co_await range_prefix(keys_.all_metadata()));
  BOOST_OUTCOME_CO_TRY(auto holds, co_await range_prefix(keys_.all_maintenance()));
  std::map<std::string, std::map<std::string, std::string>> dynamic;
  for (const auto& kv : meta.kvs)
    if (auto p = keys_.parse(kv.key); p && p->kind == KeyKind::metadata)
      dynamic[p->first][p->second] = kv.value;
  std::map<std::string, Maintenance> maintenance;
  for (const auto& kv : holds.kvs)
    if (auto p = keys_.parse(kv.key); p && p->kind == KeyKind::maintenance)
      if (auto m = decode_maintenance(p->first, kv.value)) maintenance[p->first] = m.value();
  std::vector<MachineRecord> out;
  for (const auto& kv : machines.kvs) {
    auto p = keys_.parse(kv.key);
    if (!p || p->kind != KeyKind::machine) continue;
    auto m = decode_machine(p->first, kv.value);
    if (!m) continue;
    // A dynamic empty value removes the key, a non-empty one overrides it.
    if (auto it = dynamic.find(m.value().id); it != dynamic.end())
      for (const auto& [k, v] : it->second) {
        if (v.empty())
          m.value().metadata.erase(k);
        else
          m.value().metadata[k] = v;
      }
    if (auto it = maintenance.find(m.value().id); it != maintenance.end())
      m.value().maintenance = it->second;
    out.push_back(std::move(m).value());
  }
  co_return out;
}

Task<Status> Registry::set_metadata(std::string machine, std::string key, std::string value) {
  BOOST_OUTCOME_CO_TRY(co_await kv_.put(keys_.metadata(machine, key), std::move(value)));
  co_return ok();
}

Task<Status> Registry::set_maintenance(std::string machine, Maintenance m) {
  if (m.mode == MaintenanceMode::none) {
    BOOST_OUTCOME_CO_TRY(co_await kv_.del(keys_.maintenance(machine)));
    co_return ok();
  }
  BOOST_OUTCOME_CO_TRY(co_await kv_.put(keys_.maintenance(machine), encode(m)));
  co_return ok();
}

namespace {
// Holds if `key` is unchanged since it was read at `rev` (0: it did not exist).
Compare unchanged(const std::string& key, Revision rev) {
  return rev == 0 ? Compare::absent(key) : Compare::mod_revision_is(key, rev);
}
}  // namespace

Task<Result<std::pair<std::optional<RebootRollout>, RebootLock>>> Registry::reboot_state() {
  TxnRequest txn;
  txn.success.push_back(Op::get(keys_.reboot_rollout()));
  txn.success.push_back(Op::get(keys_.reboot_lock()));
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (resp.results.size() != 2) co_return fail(Errc::internal, "short txn response");
  std::pair<std::optional<RebootRollout>, RebootLock> out;
  if (!resp.results[0].range.kvs.empty()) {
    const auto& kv = resp.results[0].range.kvs[0];
    BOOST_OUTCOME_CO_TRY(auto r, decode_reboot_rollout(kv.value));
    r.mod_revision = kv.mod_revision;
    out.first = std::move(r);
  }
  if (!resp.results[1].range.kvs.empty()) {
    const auto& kv = resp.results[1].range.kvs[0];
    BOOST_OUTCOME_CO_TRY(out.second, decode_reboot_lock(kv.value));
    out.second.mod_revision = kv.mod_revision;
  }
  co_return out;
}

Task<Status> Registry::start_reboot_rollout(RebootRollout rollout, std::optional<int> lock_max) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    BOOST_OUTCOME_CO_TRY(auto state, co_await reboot_state());
    auto& [current, lock] = state;
    if (current && current->state == RebootRollout::State::running)
      co_return fail(Errc::already_exists, "a reboot rollout is in progress");
    TxnRequest txn;
    txn.compare.push_back(unchanged(keys_.reboot_rollout(), current ? current->mod_revision : 0));
    txn.compare.push_back(unchanged(keys_.reboot_lock(), lock.mod_revision));
    txn.success.push_back(Op::put(keys_.reboot_rollout(), encode(rollout)));
    if (lock_max) {
      lock.max = *lock_max;
      txn.success.push_back(Op::put(keys_.reboot_lock(), encode(lock)));
    }
    BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
    if (resp.succeeded) co_return ok();
  }
  co_return fail(Errc::conflict, "the reboot rollout kept changing; try again");
}

Task<Status> Registry::update_reboot_lock(std::function<Status(RebootLock&)> change) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    BOOST_OUTCOME_CO_TRY(auto state, co_await reboot_state());
    RebootLock lock = state.second;
    BOOST_OUTCOME_CO_TRY(change(lock));
    TxnRequest txn;
    txn.compare.push_back(unchanged(keys_.reboot_lock(), state.second.mod_revision));
    txn.success.push_back(Op::put(keys_.reboot_lock(), encode(lock)));
    BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
    if (resp.succeeded) co_return ok();
  }
  co_return fail(Errc::conflict, "the reboot lock kept changing; try again");
}

Task<Status> Registry::write_reboot_step(RebootWrite w, LeaseId fence) {
  TxnRequest txn;
  txn.compare.push_back(Compare::lease_is(keys_.leader(), fence));
  txn.compare.push_back(unchanged(keys_.reboot_rollout(), w.rollout.mod_revision));
  txn.compare.push_back(unchanged(keys_.reboot_lock(), w.lock.mod_revision));
  txn.success.push_back(Op::put(keys_.reboot_rollout(), encode(w.rollout)));
  txn.success.push_back(Op::put(keys_.reboot_lock(), encode(w.lock)));
  // if/else, not ?: — GCC 12 destroys class temporaries of a ?: in a coroutine twice.
  for (const auto& [machine, m] : w.maintenance) {
    if (m.mode == MaintenanceMode::none)
      txn.success.push_back(Op::del(keys_.maintenance(machine)));
    else
      txn.success.push_back(Op::put(keys_.maintenance(machine), encode(m)));
  }
  for (const auto& [machine, boot] : w.requests) {
    if (boot)
      txn.success.push_back(Op::put(keys_.reboot_request(machine), *boot));
    else
      txn.success.push_back(Op::del(keys_.reboot_request(machine)));
  }
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (!resp.succeeded) co_return fail(Errc::conflict, "reboot state changed meanwhile");
  co_return ok();
}

Task<Result<std::vector<UnitRollout>>> Registry::list_rollouts() {
  BOOST_OUTCOME_CO_TRY(auto resp, co_await range_prefix(keys_.rollouts()));
  std::vector<UnitRollout> out;
  for (const auto& kv : resp.kvs) {
    auto r = decode_unit_rollout(kv.value);
    if (!r) continue;  // unreadable: skipped, like units
    r.value().mod_revision = kv.mod_revision;
    out.push_back(std::move(r).value());
  }
  co_return out;
}

Task<Result<std::optional<UnitRollout>>> Registry::get_rollout(std::string name) {
  RangeRequest req;
  req.key = keys_.rollout(name);
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.range(std::move(req)));
  if (resp.kvs.empty()) co_return std::optional<UnitRollout>();
  BOOST_OUTCOME_CO_TRY(auto r, decode_unit_rollout(resp.kvs[0].value));
  r.mod_revision = resp.kvs[0].mod_revision;
  co_return std::optional<UnitRollout>(std::move(r));
}

Task<Status> Registry::start_rollout(UnitRollout rollout, std::string content,
                                     std::optional<UnitRecord> named) {
  BOOST_OUTCOME_CO_TRY(auto current, co_await get_rollout(rollout.name));
  if (current && !current->over())
    co_return fail(Errc::already_exists, "a rollout of " + rollout.name + " is in progress");
  TxnRequest txn;
  txn.compare.push_back(
      unchanged(keys_.rollout(rollout.name), current ? current->mod_revision : 0));
  // Written unconditionally, as create_unit does: a concurrent collection of this content
  // (fenced on its mod_revision) then fails instead of racing.
  txn.success.push_back(Op::put(keys_.content(rollout.hash), std::move(content)));
  txn.success.push_back(Op::put(keys_.rollout(rollout.name), encode(rollout)));
  if (named) {
    txn.compare.push_back(Compare::mod_revision_is(keys_.unit(named->name), named->mod_revision));
    UnitRecord next = *named;
    next.hash = rollout.hash;
    txn.success.push_back(Op::put(keys_.unit(next.name), encode(next)));
  }
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (!resp.succeeded)
    co_return fail(Errc::conflict, rollout.name + " changed meanwhile; try again");
  co_return ok();
}

Task<Status> Registry::abort_rollout(std::string name) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    BOOST_OUTCOME_CO_TRY(auto current, co_await get_rollout(name));
    if (!current) co_return fail(Errc::not_found, "no rollout of " + name);
    if (current->over())
      co_return fail(Errc::conflict, "the rollout of " + name + " is over (" +
                                         std::string(to_string(current->state)) + ")");
    if (current->abort) co_return ok();
    UnitRollout next = *current;
    next.abort = true;
    TxnRequest txn;
    txn.compare.push_back(Compare::mod_revision_is(keys_.rollout(name), current->mod_revision));
    txn.success.push_back(Op::put(keys_.rollout(name), encode(next)));
    BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
    if (resp.succeeded) co_return ok();
  }
  co_return fail(Errc::conflict, "the rollout of " + name + " kept changing; try again");
}

Task<Result<Revision>> Registry::write_rollout_step(RolloutWrite w, LeaseId fence) {
  TxnRequest txn;
  txn.compare.push_back(Compare::lease_is(keys_.leader(), fence));
  txn.compare.push_back(unchanged(keys_.rollout(w.rollout.name), w.rollout.mod_revision));
  txn.success.push_back(Op::put(keys_.rollout(w.rollout.name), encode(w.rollout)));
  for (const auto& u : w.units) {
    txn.compare.push_back(Compare::mod_revision_is(keys_.unit(u.name), u.mod_revision));
    txn.success.push_back(Op::put(keys_.unit(u.name), encode(u)));
  }
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (!resp.succeeded) co_return fail(Errc::conflict, "rollout or units changed meanwhile");
  co_return resp.revision;
}

Task<Status> Registry::put_states(const std::vector<UnitStateRecord>& states, LeaseId lease) {
  std::vector<Op> ops;
  ops.reserve(states.size());
  for (const auto& s : states)
    ops.push_back(Op::put(keys_.state(s.unit, s.machine), encode(s), lease));
  co_return co_await write_in_chunks(kv_, std::move(ops));
}

Task<Status> Registry::delete_states(std::string machine, const std::vector<std::string>& units) {
  std::vector<Op> ops;
  ops.reserve(units.size());
  for (const auto& u : units) ops.push_back(Op::del(keys_.state(u, machine)));
  co_return co_await write_in_chunks(kv_, std::move(ops));
}

Task<Result<std::vector<UnitStateRecord>>> Registry::list_states() {
  co_return co_await states_under(keys_.states());
}

Task<Result<std::vector<UnitStateRecord>>> Registry::states_of(std::string unit) {
  co_return co_await states_under(keys_.states_of(unit));
}

Task<Result<std::vector<UnitStateRecord>>> Registry::states_under(std::string prefix) {
  BOOST_OUTCOME_CO_TRY(auto resp, co_await range_prefix(prefix));
  std::vector<UnitStateRecord> out;
  for (const auto& kv : resp.kvs) {
    auto p = keys_.parse(kv.key);
    if (!p || p->kind != KeyKind::state) continue;
    if (auto s = decode_state(p->first, p->second, kv.value)) out.push_back(std::move(s).value());
  }
  co_return out;
}

Task<Result<std::vector<Assignment>>> Registry::list_assignments(std::string machine) {
  BOOST_OUTCOME_CO_TRY(auto resp, co_await range_prefix(keys_.assignments(machine)));
  std::vector<Assignment> out;
  for (const auto& kv : resp.kvs) {
    auto p = keys_.parse(kv.key);
    if (!p || p->kind != KeyKind::assignment) continue;
    if (auto a = decode_assignment(p->first, p->second, kv.value))
      out.push_back(std::move(a).value());
  }
  co_return out;
}

namespace {
Task<Result<std::optional<std::string>>> get_value(KvStore& kv, std::string key) {
  RangeRequest req;
  req.key = std::move(key);
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv.range(std::move(req)));
  if (resp.kvs.empty()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(std::move(resp.kvs[0].value));
}
}  // namespace

Task<Result<std::optional<std::string>>> Registry::get_schedule(std::string unit) {
  co_return co_await get_value(kv_, keys_.schedule(unit));
}

Task<Result<std::optional<std::string>>> Registry::get_reason(std::string unit) {
  co_return co_await get_value(kv_, keys_.reason(unit));
}

Task<Result<std::optional<std::string>>> Registry::leader() {
  co_return co_await get_value(kv_, keys_.leader());
}

Task<Result<bool>> Registry::campaign(std::string machine, LeaseId lease, Revision* seen) {
  TxnRequest txn;
  txn.compare.push_back(Compare::absent(keys_.leader()));
  txn.success.push_back(Op::put(keys_.leader(), machine, lease));
  txn.failure.push_back(Op::get(keys_.leader()));
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (seen) *seen = resp.revision;
  if (resp.succeeded) co_return true;
  if (resp.results.empty() || resp.results[0].range.kvs.empty()) co_return false;
  const auto& cur = resp.results[0].range.kvs[0];
  co_return cur.lease == lease&& cur.value == machine;
}

Task<Status> Registry::resign(LeaseId lease) {
  TxnRequest txn;
  txn.compare.push_back(Compare::lease_is(keys_.leader(), lease));
  txn.success.push_back(Op::del(keys_.leader()));
  BOOST_OUTCOME_CO_TRY(co_await kv_.txn(std::move(txn)));
  co_return ok();
}

Task<Status> Registry::apply(ScheduleBatch batch, LeaseId fence) {
  auto ops = batch.take();
  const std::size_t per_txn = std::max<std::size_t>(1, kv_.max_txn_ops());
  std::vector<TxnRequest> txns;
  // Bounded in bytes too: assignments carry contents of up to 4 KiB, which escaping can grow
  // several times, and etcd refuses requests over 1.5 MiB (its JSON gateway base64-encodes
  // every key and value on top).
  std::size_t bytes = 0;
  for (auto& op : ops) {
    const std::size_t size = op.key.size() + op.value.size();
    if (txns.empty() || txns.back().success.size() >= per_txn ||
        (!txns.back().success.empty() && bytes + size > kApplyTxnBytes)) {
      TxnRequest txn;
      txn.compare.push_back(Compare::lease_is(keys_.leader(), fence));
      txns.push_back(std::move(txn));
      bytes = 0;
    }
    bytes += size;
    txns.back().success.push_back(std::move(op));
  }
  // A batch names each key once, so its txns commute: a few in flight at once let etcd commit
  // them together instead of paying one round trip and fsync per txn. Each txn is fenced on its
  // own; once the fence fails no later txn can pass it (a lease never comes back), so a deposed
  // leader still writes nothing further.
  for (auto& r : co_await run_txns(kv_, std::move(txns), kPlanTxnsInFlight)) {
    if (!r) co_return r.error();
    if (!r.value().succeeded)
      co_return fail(Errc::conflict, "engine leadership lost: write fenced off");
  }
  co_return ok();
}

Task<Status> Registry::collect_contents(const std::vector<std::pair<std::string, Revision>>& unused,
                                        LeaseId fence) {
  const std::size_t per_txn = std::max<std::size_t>(1, kv_.max_txn_ops() - 1);
  for (std::size_t i = 0; i < unused.size(); i += per_txn) {
    TxnRequest txn;
    txn.compare.push_back(Compare::lease_is(keys_.leader(), fence));
    for (std::size_t j = i; j < std::min(unused.size(), i + per_txn); ++j) {
      txn.compare.push_back(
          Compare::mod_revision_is(keys_.content(unused[j].first), unused[j].second));
      txn.success.push_back(Op::del(keys_.content(unused[j].first)));
    }
    // A failed compare means a content was reused or leadership moved: the next pass retries.
    BOOST_OUTCOME_CO_TRY(co_await kv_.txn(std::move(txn)));
  }
  co_return ok();
}

Registry::Registry(KvStore& kv, std::string prefix)
    : kv_(kv),
      layout_(std::make_unique<const KeyLayout>(std::move(prefix))),
      keys_(*layout_),
      events_(kv_, keys_.prefix()) {}

Registry::~Registry() = default;

std::unique_ptr<ClusterFeed> Registry::watch_cluster() {
  return std::make_unique<ClusterFeed>(kv_, keys_);
}

std::unique_ptr<ClusterView> Registry::cluster_view(ClusterViewOptions opts) {
  return std::make_unique<ClusterView>(kv_, keys_, opts);
}

std::unique_ptr<Watcher> Registry::watch_leader(Revision after) {
  WatchRequest req;
  req.key = keys_.leader();
  req.start_revision = after + 1;
  return kv_.watch(std::move(req));
}

std::unique_ptr<AssignmentFeed> Registry::watch_assignments(std::string machine) {
  return std::make_unique<AssignmentFeed>(kv_, keys_, std::move(machine));
}

std::unique_ptr<LeaseKeeper> Registry::lease_keeper(LeaseKeeperOptions opts) {
  return std::make_unique<LeaseKeeper>(kv_, opts);
}

Task<Result<UnitsSnapshot>> Registry::units_snapshot(std::optional<std::string> name) {
  const auto& keys = keys_;
  auto prefix = [](std::string k) { return Op::get(k, prefix_end(k)); };
  // One txn, so units, schedules, states and reasons are read at the same revision.
  TxnRequest txn;
  if (name) {
    txn.success.push_back(Op::get(keys.unit(*name)));
    txn.success.push_back(Op::get(keys.schedule(*name)));
    txn.success.push_back(prefix(keys.states_of(*name)));
    txn.success.push_back(Op::get(keys.reason(*name)));
  } else {
    txn.success.push_back(prefix(keys.units()));
    txn.success.push_back(prefix(keys.schedules()));
    txn.success.push_back(prefix(keys.states()));
    txn.success.push_back(prefix(keys.reasons()));
  }
  BOOST_OUTCOME_CO_TRY(auto resp, co_await kv_.txn(std::move(txn)));
  if (resp.results.size() != 4) co_return fail(Errc::internal, "short txn response");
  UnitsSnapshot snap;
  for (const auto& kv : resp.results[0].range.kvs) {
    auto p = keys.parse(kv.key);
    if (!p || p->kind != KeyKind::unit) continue;
    auto u = decode_unit(p->first, kv.value);
    if (!u) {
      log::warn("registry", "skipping unreadable unit record", {{"unit", p->first}});
      continue;
    }
    u.value().mod_revision = kv.mod_revision;
    snap.units.push_back(std::move(u).value());
  }
  std::sort(snap.units.begin(), snap.units.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  for (const auto& kv : resp.results[1].range.kvs)
    if (auto p = keys.parse(kv.key); p && p->kind == KeyKind::schedule)
      snap.schedule[p->first] = kv.value;
  for (const auto& kv : resp.results[2].range.kvs)
    if (auto p = keys.parse(kv.key); p && p->kind == KeyKind::state) {
      auto st = decode_state(p->first, p->second, kv.value);
      snap.reported[{p->first, p->second}] = st ? st.value().active_state : std::string();
    }
  for (const auto& kv : resp.results[3].range.kvs)
    if (auto p = keys.parse(kv.key); p && p->kind == KeyKind::reason)
      snap.reasons[p->first] = kv.value;
  co_return snap;
}

}  // namespace fleet::registry
