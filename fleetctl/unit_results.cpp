#include "fleetctl/unit_results.h"

#include <nlohmann/json.hpp>
#include <set>

#include "fleetctl/listing.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

FlagSpec result_format_flag() {
  return {"format", FlagType::string, "text",
          "Output format of the results: text (fleet's lines) or json (one object per unit and "
          "line: name, machine, state, error)."};
}

std::optional<ResultFormat> result_format(const FlagValues& flags, std::ostream& err) {
  const std::string format = flags.str("format");
  if (format == "text") return ResultFormat::text;
  if (format == "json") return ResultFormat::json;
  err << "Invalid output format " << go_quote(format) << ": use text or json\n";
  return std::nullopt;
}

void record_unit_error(CommandContext& ctx, std::string_view name, std::string_view message) {
  if (ctx.errors == nullptr) return;
  ctx.errors->try_emplace(std::string(name), std::string(message));
}

void print_unit_results(CommandContext& ctx, std::ostream& out) {
  std::set<std::string> seen;
  for (const auto& arg : ctx.args) {
    std::string name = mangle_unit_name(arg);
    if (!seen.insert(name).second) continue;
    nlohmann::ordered_json j = {
        {"name", name}, {"machine", nullptr}, {"state", nullptr}, {"error", nullptr}};
    const bool failed = ctx.errors != nullptr && ctx.errors->count(name) > 0;
    if (failed) j["error"] = ctx.errors->find(name)->second;
    auto got = ctx.api->get_unit(name);
    if (!got) {
      if (!failed) j["error"] = got.error().message;
    } else if (got.value()) {
      const api::Unit& u = *got.value();
      if (!u.machine_id.empty()) j["machine"] = u.machine_id;
      const bool global = api::is_global(u);
      const std::string& state =
          global || u.current_state.empty() ? u.desired_state : u.current_state;
      if (!state.empty()) j["state"] = state;
    } else if (ctx.command == "destroy" && !failed) {
      j["state"] = "destroyed";
    }
    out << j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n"
        << std::flush;
  }
}

}  // namespace fleet::fleetctl
