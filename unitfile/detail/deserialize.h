#pragma once
// go-systemd's unit.Deserialize, re-implemented byte for byte.

#include <string_view>
#include <vector>

#include "common/result.h"
#include "unitfile/unit_file.h"

namespace fleet::unitfile::detail {

[[nodiscard]] Result<std::vector<UnitOption>> deserialize(std::string_view text);

}  // namespace fleet::unitfile::detail
