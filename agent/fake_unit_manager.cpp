#include "agent/fake_unit_manager.h"

#include <algorithm>

namespace fleet::agent {

FakeUnitManager::FakeUnitManager(std::vector<UnitFileSpec> on_disk) {
  for (auto& f : on_disk) units_[f.name].content = std::move(f.content);
}

UnitStatus FakeUnitManager::status_of(const std::string& name) const {
  auto it = units_.find(name);
  if (it == units_.end()) return not_found_status(name);
  const Unit& u = it->second;
  return UnitStatus{name, "loaded", u.active, u.sub, u.pid};
}

void FakeUnitManager::transition(const std::string& name, Unit& u, std::string active,
                                 std::string sub) {
  u.active = std::move(active);
  u.sub = std::move(sub);
  if (u.active != "active") u.pid = 0;
  if (callback_) callback_(status_of(name));
}

Task<Status> FakeUnitManager::load(std::vector<UnitFileSpec> units) {
  if (unavailable_) co_return refuse("load");
  for (const auto& f : units)
    if (auto st = check_unit_name(f.name); !st) co_return st;
  if (units.empty()) co_return ok();
  std::vector<std::string> fresh;
  for (auto& f : units) {
    calls_.push_back("load " + f.name);
    auto [it, inserted] = units_.try_emplace(f.name);
    it->second.content = std::move(f.content);
    if (inserted) fresh.push_back(f.name);
  }
  ++reloads_;
  calls_.push_back("reload");
  for (const auto& n : fresh)
    if (callback_) callback_(status_of(n));
  co_return ok();
}

Task<Status> FakeUnitManager::unload(std::vector<std::string> names) {
  if (unavailable_) co_return refuse("unload");
  if (names.empty()) co_return ok();
  for (const auto& n : names) {
    calls_.push_back("unload " + n);
    auto it = units_.find(n);
    if (it == units_.end()) continue;
    if (it->second.active == "active") transition(n, it->second, "inactive", "dead");
    units_.erase(it);
  }
  ++reloads_;
  calls_.push_back("reload");
  co_return ok();
}

Task<Status> FakeUnitManager::start(std::vector<std::string> names) {
  if (unavailable_ || starts_lost_) co_return refuse("start");
  std::vector<std::pair<std::string, Error>> failed;
  for (const auto& n : names) {
    calls_.push_back("start " + n);
    auto it = units_.find(n);
    if (it == units_.end()) {
      failed.emplace_back(n, make_error(Errc::not_found, "unit " + n + " not found"));
      continue;
    }
    Unit& u = it->second;
    auto f = failures_.count(n) ? failures_[n] : Failure::none;
    if (f == Failure::job_fails) {
      transition(n, u, "failed", "failed");
      failed.emplace_back(n, make_error(Errc::internal, "start job for " + n + " failed"));
      continue;
    }
    if (u.active == "active") continue;  // systemd: the job completes without a change
    u.pid = next_pid_++;
    transition(n, u, "active", "running");
    if (f == Failure::process_exits) transition(n, u, "failed", "failed");
  }
  co_return batch_status("start", failed);
}

Task<Status> FakeUnitManager::stop(std::vector<std::string> names) {
  if (unavailable_) co_return refuse("stop");
  std::vector<std::pair<std::string, Error>> failed;
  for (const auto& n : names) {
    calls_.push_back("stop " + n);
    auto it = units_.find(n);
    if (it == units_.end()) {
      failed.emplace_back(n, make_error(Errc::not_found, "unit " + n + " not loaded"));
      continue;
    }
    // A failed unit stays failed until its failed state is reset (unload does that).
    if (it->second.active == "active") transition(n, it->second, "inactive", "dead");
  }
  co_return batch_status("stop", failed);
}

Task<Result<std::vector<UnitStatus>>> FakeUnitManager::list(std::vector<std::string> names) {
  if (unavailable_) co_return refuse("list");
  if (names.empty()) names = files_on_disk();
  std::vector<UnitStatus> out;
  out.reserve(names.size());
  for (const auto& n : names) out.push_back(status_of(n));
  co_return out;
}

std::vector<std::string> FakeUnitManager::files_on_disk() const {
  std::vector<std::string> out;
  for (const auto& [n, u] : units_) out.push_back(n);
  return out;  // std::map keeps them sorted
}

bool FakeUnitManager::set_state(const std::string& name, std::string active, std::string sub) {
  auto it = units_.find(name);
  if (it == units_.end()) return false;
  if (active == "active" && it->second.pid == 0) it->second.pid = next_pid_++;
  transition(name, it->second, std::move(active), std::move(sub));
  return true;
}

std::optional<std::string> FakeUnitManager::content(const std::string& name) const {
  auto it = units_.find(name);
  if (it == units_.end()) return std::nullopt;
  return it->second.content;
}

Task<Result<bool>> FakeUnitManager::system_stopping() { co_return system_stopping_; }

Task<Status> FakeUnitManager::reboot() {
  ++reboots_;
  system_stopping_ = true;
  co_return ok();
}

}  // namespace fleet::agent
