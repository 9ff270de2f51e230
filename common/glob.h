#pragma once
// Shell-style globs with Go's path.Match semantics, which fleet's X-Fleet Conflicts/Replaces use:
// `*` any run of non-'/' bytes, `?` one non-'/' byte, `[...]`/`[^...]` classes with ranges, `\`
// escapes. A malformed pattern matches nothing (fleet treats it that way).

#include <optional>
#include <string_view>

namespace fleet {

// nullopt when the pattern is malformed.
std::optional<bool> glob_match_checked(std::string_view pattern, std::string_view name);

inline bool glob_match(std::string_view pattern, std::string_view name) {
  return glob_match_checked(pattern, name).value_or(false);
}

}  // namespace fleet
