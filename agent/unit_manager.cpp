#include "agent/unit_manager.h"

#include <array>

namespace fleet::agent {

Status check_unit_name(std::string_view name) {
  static constexpr std::array<std::string_view, 11> kSuffixes = {
      ".service",   ".socket", ".target", ".timer", ".path",  ".mount",
      ".automount", ".swap",   ".slice",  ".scope", ".device"};
  auto bad = [&](const char* why) {
    return fail(Errc::invalid_argument, "bad unit name \"" + std::string(name) + "\": " + why);
  };
  if (name.empty() || name.size() > 255) return bad("empty or longer than 255");
  for (char c : name) {
    bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == ':' || c == '_' || c == '.' || c == '-' || c == '@' || c == '\\';
    if (!okc) return bad("invalid character");
  }
  bool typed = false;
  for (auto s : kSuffixes)
    typed |= name.size() > s.size() && name.substr(name.size() - s.size()) == s;
  if (!typed) return bad("no unit type suffix");
  if (name.front() == '.') return bad("starts with a dot");
  return ok();
}

Status batch_status(std::string_view op,
                    const std::vector<std::pair<std::string, Error>>& failures) {
  if (failures.empty()) return ok();
  std::string msg(op);
  msg += ":";
  for (size_t i = 0; i < failures.size(); ++i) {
    msg += (i ? "; " : " ") + failures[i].first + ": " + failures[i].second.describe();
  }
  return fail(failures.front().second.code, std::move(msg));
}

}  // namespace fleet::agent
