#pragma once
// Shell-style globs with the semantics of Go's path.Match, which fleet's X-Fleet Conflicts and
// Replaces use: `*` any run of non-'/' characters, `?` one non-'/' character, `[...]`/`[^...]`
// classes with ranges, `\` escapes; characters are UTF-8 code points (an invalid byte counts as one
// U+FFFD). A malformed pattern is an error, whatever the name.
//
// Cost: O(pattern length x name length) character steps for every input. Like path.Match, the
// matcher never backtracks across stars: each chunk between stars is matched at its leftmost
// possible position, which is enough for globs (a later position never helps a later chunk), so
// a hostile `*a*a*a*...b` costs no more than any other pattern of its length.

#include <cstddef>
#include <optional>
#include <string_view>

namespace fleet {

// nullopt when the pattern is malformed. `steps`, when given, receives the number of character
// comparisons made (tests use it to prove the bound above without timing anything).
std::optional<bool> glob_match_checked(std::string_view pattern, std::string_view name,
                                       size_t* steps = nullptr);

inline bool glob_match(std::string_view pattern, std::string_view name) {
  return glob_match_checked(pattern, name).value_or(false);
}

}  // namespace fleet
