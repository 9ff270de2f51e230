#include "fleetctl/unit_patterns.h"

#include <algorithm>
#include <set>

#include "common/glob.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

namespace {

std::string_view base_name(std::string_view arg) {
  auto slash = arg.rfind('/');
  return slash == std::string_view::npos ? arg : arg.substr(slash + 1);
}

}  // namespace

bool is_unit_pattern(std::string_view arg) {
  return base_name(arg).find_first_of("*?[") != std::string_view::npos;
}

bool argument_matches(std::string_view arg, std::string_view unit) {
  if (!is_unit_pattern(arg)) return mangle_unit_name(arg) == unit;
  return glob_match(base_name(arg), unit) || glob_match(mangle_unit_name(arg), unit);
}

Status expand_unit_patterns(CommandContext& ctx) {
  std::vector<api::Unit> registered;
  if (std::any_of(ctx.args.begin(), ctx.args.end(),
                  [](const auto& a) { return is_unit_pattern(a); })) {
    auto listed = ctx.api->list_unit_summaries();  // names are all a pattern needs
    if (!listed) return listed.error();
    registered = std::move(listed).value();
  }
  // A template cannot be loaded or started: `start 'api@*'` means its instances. Commands that
  // act on the registered file itself (destroy, cat, submit) include templates.
  const bool templates =
      ctx.command == "destroy" || ctx.command == "cat" || ctx.command == "submit";
  std::vector<std::string> expanded;
  std::set<std::string> seen;  // unit names already named
  auto add = [&](const std::string& arg, const std::string& name) {
    if (seen.insert(name).second) expanded.push_back(arg);
  };
  for (const auto& arg : ctx.args) {
    if (!is_unit_pattern(arg)) {
      add(arg, mangle_unit_name(arg));
      continue;
    }
    bool matched = false;
    for (const auto& u : registered) {
      if (!argument_matches(arg, u.name)) continue;
      if (!templates) {
        auto info = unit_name_info(u.name);
        if (info && info->is_template()) continue;
      }
      matched = true;
      add(u.name, u.name);
    }
    if (!matched) expanded.push_back(arg);
  }
  ctx.args = std::move(expanded);
  return ok();
}

}  // namespace fleet::fleetctl
