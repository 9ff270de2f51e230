#include "registry/key_layout.h"

namespace fleet::registry {

KeyLayout::KeyLayout(std::string prefix) : prefix_(std::move(prefix)) {
  if (prefix_.empty() || prefix_.front() != '/') prefix_.insert(prefix_.begin(), '/');
  if (prefix_.back() != '/') prefix_ += '/';
}

std::string KeyLayout::join(std::string_view folder, std::string_view name) const {
  std::string k = prefix_;
  k += folder;
  k += name;
  return k;
}

std::string KeyLayout::assignment(std::string_view machine, std::string_view unit) const {
  std::string k = assignments(machine);
  k += unit;
  return k;
}

std::string KeyLayout::assignments(std::string_view machine) const {
  std::string k = join("assign/", machine);
  k += '/';
  return k;
}

std::string KeyLayout::metadata(std::string_view machine, std::string_view key) const {
  std::string k = join("metadata/", machine);
  k += '/';
  k += key;
  return k;
}

std::string KeyLayout::state(std::string_view unit, std::string_view machine) const {
  std::string k = states_of(unit);
  k += machine;
  return k;
}

std::string KeyLayout::states_of(std::string_view unit) const {
  std::string k = join("states/", unit);
  k += '/';
  return k;
}

std::optional<ParsedKey> KeyLayout::parse(std::string_view key) const {
  if (key.substr(0, prefix_.size()) != prefix_) return std::nullopt;
  key.remove_prefix(prefix_.size());
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view folder = key.substr(0, slash);
  std::string_view rest = key.substr(slash + 1);
  if (rest.empty()) return std::nullopt;
  auto two = [&](KeyKind kind) -> std::optional<ParsedKey> {
    auto s = rest.find('/');
    if (s == std::string_view::npos || s == 0 || s + 1 == rest.size()) return std::nullopt;
    return ParsedKey{kind, std::string(rest.substr(0, s)), std::string(rest.substr(s + 1))};
  };
  auto one = [&](KeyKind kind) -> std::optional<ParsedKey> {
    if (rest.find('/') != std::string_view::npos) return std::nullopt;
    return ParsedKey{kind, std::string(rest), {}};
  };
  if (folder == "units") return one(KeyKind::unit);
  if (folder == "content") return one(KeyKind::content);
  if (folder == "schedule") return one(KeyKind::schedule);
  if (folder == "reasons") return one(KeyKind::reason);
  if (folder == "machines") return one(KeyKind::machine);
  if (folder == "maintenance") return one(KeyKind::maintenance);
  if (folder == "rollouts") return one(KeyKind::unit_rollout);
  if (folder == "assign") {
    auto p = two(KeyKind::assignment);
    if (p && p->second == "reboot") return ParsedKey{KeyKind::reboot_request, p->first, {}};
    if (p) std::swap(p->first, p->second);  // first = unit, second = machine
    return p;
  }
  if (folder == "metadata") return two(KeyKind::metadata);
  if (folder == "states") return two(KeyKind::state);
  if (folder == "reboot" && rest == "lock") return ParsedKey{KeyKind::reboot_lock, {}, {}};
  if (folder == "reboot" && rest == "rollout") return ParsedKey{KeyKind::reboot_rollout, {}, {}};
  if (folder == "engine" && rest == "leader") return ParsedKey{KeyKind::leader, {}, {}};
  return std::nullopt;
}

}  // namespace fleet::registry
