#pragma once
// Unit arguments that are glob patterns (`fleetctl start 'api@*'`, `list-units 'web@1*'`),
// matched against the names of registered units as fleet's help promised ("matching names of
// previously submitted units"); fleet itself only ever saw what the shell expanded.

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "api/schema.h"
#include "fleetctl/command.h"

namespace fleet::fleetctl {

// The argument's basename holds `*`, `?` or `[`, none of which a unit name may contain.
bool is_unit_pattern(std::string_view arg);

// Whether an argument names `unit`: a pattern matches (Go's path.Match) the unit's name as
// written or with the default type appended (`api@1*` matches `api@10.service`); a plain
// argument is mangled first (`hello` names `hello.service`).
bool argument_matches(std::string_view arg, std::string_view unit);

// The rows whose unit (`name`) some argument names; every row when there are no arguments.
template <class Row>
std::vector<Row> named_by_arguments(const CommandContext& ctx, std::vector<Row> rows) {
  if (ctx.args.empty()) return rows;
  std::erase_if(rows, [&](const Row& r) {
    return std::none_of(ctx.args.begin(), ctx.args.end(),
                        [&](const std::string& a) { return argument_matches(a, r.name); });
  });
  return rows;
}

// Rewrites ctx.args for a unit command: every pattern is replaced by the registered units it
// matches, in the API's order (templates only for destroy, cat and submit), and a unit named again
// (`destroy x x`, or a pattern matching a unit also named) keeps only its first place. A pattern
// that matches nothing stays, so the command reports it in its own words. One listing, only when
// there is a pattern; its error is returned.
Status expand_unit_patterns(CommandContext& ctx);

}  // namespace fleet::fleetctl
