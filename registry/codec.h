#pragma once
// JSON encodings of the registry records (values stored in the KvStore). Decoding never throws:
// a malformed value written by another version or by hand is reported, not fatal.

#include <string>
#include <string_view>

#include "common/result.h"
#include "registry/records.h"

namespace fleet::registry {

std::string encode(const UnitRecord& r);
std::string encode(const MachineRecord& r);
std::string encode(const Assignment& r);
std::string encode(const UnitStateRecord& r);
std::string encode(const Maintenance& r);
std::string encode(const RebootLock& r);
std::string encode(const RebootRollout& r);
std::string encode(const UnitRollout& r);

Result<UnitRecord> decode_unit(std::string_view name, std::string_view json);
Result<MachineRecord> decode_machine(std::string_view id, std::string_view json);
Result<Assignment> decode_assignment(std::string_view unit, std::string_view machine,
                                     std::string_view json);
Result<RebootLock> decode_reboot_lock(std::string_view json);
Result<RebootRollout> decode_reboot_rollout(std::string_view json);
Result<UnitRollout> decode_unit_rollout(std::string_view json);
Result<Maintenance> decode_maintenance(std::string_view machine, std::string_view json);
Result<UnitStateRecord> decode_state(std::string_view unit, std::string_view machine,
                                     std::string_view json);

}  // namespace fleet::registry
