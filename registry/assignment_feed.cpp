#include "registry/assignment_feed.h"

#include "common/log.h"
#include "registry/codec.h"
#include "registry/key_layout.h"
#include "registry/reflector.h"

namespace fleet::registry {

AssignmentFeed::AssignmentFeed(KvStore& kv, const KeyLayout& keys, std::string machine)
    : keys_(keys),
      machine_(std::move(machine)),
      reflector_(std::make_unique<Reflector>(kv, keys.assignments(machine_))) {}

AssignmentFeed::~AssignmentFeed() = default;

Task<Result<std::vector<AssignmentChange>>> AssignmentFeed::next() {
  auto batch = co_await reflector_->next();
  if (!batch) co_return batch.error();
  std::vector<AssignmentChange> out;
  for (const auto& c : batch.value().changes) {
    auto p = keys_.parse(c.kv.key);
    if (p && p->kind == KeyKind::reboot_request) {
      // No ?: here: GCC 12 destroys class temporaries of a ?: in a coroutine twice.
      AssignmentChange request;
      if (c.type != Change::Type::del) request.reboot_from = c.kv.value;
      out.push_back(std::move(request));
      continue;
    }
    if (!p || p->kind != KeyKind::assignment) continue;
    if (c.type == Change::Type::del) {
      out.push_back({p->first, std::nullopt});
    } else if (auto a = decode_assignment(p->first, p->second, c.kv.value)) {
      out.push_back({p->first, std::move(a).value()});
    } else {
      log::warn("registry", "undecodable assignment",
                {{"unit", p->first}, {"machine", machine_}, {"error", a.error().describe()}});
    }
  }
  co_return out;
}

void AssignmentFeed::cancel() { reflector_->cancel(); }

bool AssignmentFeed::synced() const { return reflector_->synced(); }

}  // namespace fleet::registry
