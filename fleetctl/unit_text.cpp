// Built-in implementation of unit_source.h (fleet-spec §3). Kept small on purpose: the unitfile
// library is the full implementation and can replace parse/validate through UnitSource.
#include <openssl/evp.h>

#include <algorithm>
#include <set>

#include "common/glob.h"
#include "common/strings.h"
#include "fleetctl/unit_source.h"

namespace fleet::fleetctl {

namespace {

constexpr std::size_t kMaxLine = 2048;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Splits text into physical lines (without "\n"; a trailing "\r" stays, callers strip it).
std::vector<std::string_view> physical_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(text.substr(start));
      break;
    }
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string_view strip_cr(std::string_view s) {
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

Error line_error(std::size_t line, const std::string& why) {
  return Error{Errc::invalid_argument, "line " + std::to_string(line + 1) + ": " + why};
}

// §3.6 multi-value rule for [X-Fleet] values.
std::vector<std::string> split_multi(const std::string& v) {
  if (v.size() < 2 || v.front() != '"' || v.back() != '"') return {v};
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (char c : v) {
    if (c == '"') {
      quoted = !quoted;
    } else if (c == ' ' && !quoted) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

std::vector<std::string> xfleet_values(const Options& options, std::string_view key) {
  std::vector<std::string> out;
  for (const auto& o : options) {
    if (o.section != "X-Fleet" || o.name != key) continue;
    for (auto& v : split_multi(o.value)) out.push_back(std::move(v));
  }
  return out;
}

std::string go_quote_rune(std::string_view utf8_char) {
  if (utf8_char.size() == 1) {
    unsigned char c = static_cast<unsigned char>(utf8_char[0]);
    if (c == '\'') return "'\\''";
    if (c == '\\') return "'\\\\'";
    if (c == '\n') return "'\\n'";
    if (c == '\t') return "'\\t'";
    if (c == '\r') return "'\\r'";
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      return std::string("'\\x") + kHex[c >> 4] + kHex[c & 15] + "'";
    }
  }
  return "'" + std::string(utf8_char) + "'";
}

}  // namespace

Result<Options> parse_unit_text(std::string_view text) {
  Options out;
  auto lines = physical_lines(text);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].size() >= kMaxLine) return line_error(i, "line too long (max 2048 bytes)");
  }
  std::optional<std::string> section;
  bool comment_continues = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = strip_cr(lines[i]);
    if (comment_continues) {
      comment_continues = !trim(line).empty() && trim(line).back() == '\\';
      continue;
    }
    std::string_view body = line;
    while (!body.empty() && is_space(body.front())) body.remove_prefix(1);
    if (!section) {
      // Before the first section only '[' and comments matter; anything else is skipped.
      auto pos = body.find_first_of("[#;");
      if (pos == std::string_view::npos) continue;
      body = body.substr(pos);
    }
    if (body.empty()) continue;
    if (body.front() == '#' || body.front() == ';') {
      std::string_view t = trim(body);
      comment_continues = t.back() == '\\';
      continue;
    }
    if (body.front() == '[') {
      auto close = body.find(']');
      if (close == std::string_view::npos) {
        // The section name may not span lines in practice; fleet reports a missing ']'.
        return line_error(i, "unable to find end of section");
      }
      std::string_view garbage = body.substr(close + 1);
      if (!trim(garbage).empty()) {
        std::string bytes = "[";
        for (std::size_t k = 0; k < garbage.size(); ++k) {
          bytes += (k ? " " : "") + std::to_string(static_cast<unsigned char>(garbage[k]));
        }
        return line_error(i, "found garbage after section name : " + bytes + "]");
      }
      section = std::string(body.substr(1, close - 1));
      continue;
    }
    auto eq = body.find('=');
    if (eq == std::string_view::npos) {
      // Go reads up to '=': a newline first is an error, end of input first is EOF.
      if (i + 1 == lines.size() && !text.ends_with('\n')) return line_error(i, "EOF");
      return line_error(i, "unexpected newline encountered while parsing option name");
    }
    api::UnitOption opt;
    opt.section = *section;
    opt.name = std::string(trim(body.substr(0, eq)));
    std::string value(body.substr(eq + 1));
    if (!trim(value).empty() && value.back() == '\\') {
      // Continuation: keep the backslashes and newlines verbatim.
      value += '\n';
      while (i + 1 < lines.size()) {
        std::string_view next = strip_cr(lines[i + 1]);
        if (trim(next).empty()) break;
        ++i;
        value += next;
        if (next.back() != '\\') break;
        value += '\n';
      }
    }
    if (!value.empty() && value.back() == '\n') {
      opt.value = std::string(trim(value)) + "\n";
    } else {
      opt.value = std::string(trim(value));
    }
    out.push_back(std::move(opt));
  }
  return out;
}

std::string serialize_unit(const Options& options) {
  std::vector<std::string> order;
  for (const auto& o : options) {
    if (std::find(order.begin(), order.end(), o.section) == order.end()) order.push_back(o.section);
  }
  std::string out;
  for (std::size_t s = 0; s < order.size(); ++s) {
    if (s > 0) out += '\n';
    out += "[" + order[s] + "]\n";
    for (const auto& o : options) {
      if (o.section == order[s]) out += o.name + "=" + o.value + "\n";
    }
  }
  return out;
}

std::string unit_hash(const Options& options) {
  std::string text = serialize_unit(options);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(text.data(), text.size(), md, &len, EVP_sha1(), nullptr);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

std::string unit_description(const Options& options) {
  for (const auto& o : options) {
    if (o.section == "Unit" && o.name == "Description") return o.value;
  }
  return {};
}

std::vector<std::string> unknown_xfleet_keys(const Options& options) {
  static const std::set<std::string> kKnown = {"MachineID",
                                               "X-ConditionMachineID",
                                               "X-ConditionMachineBootID",
                                               "MachineOf",
                                               "X-ConditionMachineOf",
                                               "MachineMetadata",
                                               "X-ConditionMachineMetadata",
                                               "Conflicts",
                                               "X-Conflicts",
                                               "Global",
                                               "Replaces"};
  std::vector<std::string> out;
  for (const auto& o : options) {
    if (o.section != "X-Fleet" || kKnown.count(o.name)) continue;
    if (std::find(out.begin(), out.end(), o.name) == out.end()) out.push_back(o.name);
  }
  return out;
}

Status validate_unit_options(const Options& options) {
  if (auto reparsed = parse_unit_text(serialize_unit(options)); !reparsed) {
    return reparsed.error();
  }
  std::vector<std::string> conflicts;
  for (const char* key : {"X-Conflicts", "Conflicts"}) {
    for (const auto& v : xfleet_values(options, key)) {
      for (auto& f : split_fields(v)) {
        if (std::find(conflicts.begin(), conflicts.end(), f) == conflicts.end()) {
          conflicts.push_back(std::move(f));
        }
      }
    }
  }
  auto replaces = xfleet_values(options, "Replaces");
  auto peers = xfleet_values(options, "X-ConditionMachineOf");
  for (auto& p : xfleet_values(options, "MachineOf")) peers.push_back(std::move(p));
  bool machine_id = false;
  for (const char* key : {"MachineID", "X-ConditionMachineID", "X-ConditionMachineBootID"}) {
    auto v = xfleet_values(options, key);
    if (!v.empty() && !v.front().empty()) machine_id = true;
  }
  bool global = api::is_global(options);
  auto bad = [](std::string m) { return fail(Errc::invalid_argument, std::move(m)); };
  for (const auto& peer : peers) {
    for (const auto& c : conflicts) {
      if (glob_match(c, peer)) {
        return bad("unresolvable requirements: peer \"" + peer + "\" matches conflict \"" + c +
                   "\"");
      }
    }
    for (const auto& r : replaces) {
      if (glob_match(r, peer)) {
        return bad("unresolvable requirements: peer \"" + peer + "\" matches replace \"" + r +
                   "\"");
      }
    }
  }
  if (machine_id && !peers.empty()) return bad("MachineID cannot be used with Peers");
  if (machine_id && !conflicts.empty()) return bad("MachineID cannot be used with Conflicts");
  if (machine_id && global) return bad("MachineID cannot be used with Global");
  if (machine_id && !replaces.empty()) return bad("MachineID cannot be used with Replaces");
  if (global && !peers.empty()) return bad("Global cannot be used with Peers");
  if (global && !replaces.empty()) return bad("Global cannot be used with Replaces");
  if (!conflicts.empty() && !replaces.empty()) return bad("Conflicts cannot be used with Replaces");
  return ok();
}

UnitSource default_unit_source() { return UnitSource{&parse_unit_text, &validate_unit_options}; }

Status validate_unit_name(std::string_view name) {
  static const std::set<std::string_view> kTypes = {
      "automount", "busname",  "device", "mount", "path",   "scope", "service",
      "slice",     "snapshot", "socket", "swap",  "target", "timer"};
  static const std::set<std::string_view> kTemplateTypes = {"path", "service", "socket", "target",
                                                            "timer"};
  auto bad = [](std::string m) { return fail(Errc::invalid_argument, std::move(m)); };
  if (name.empty()) return bad("unit name cannot be empty");
  if (name.size() > 256) return bad("unit name exceeds maximum length (256)");
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return bad("unit name must contain \".\"");
  if (dot == name.size() - 1) return bad("unit name cannot end in \".\"");
  std::string_view suffix = name.substr(dot + 1);
  if (!kTypes.count(suffix)) return bad("invalid unit type: \"" + std::string(suffix) + "\"");
  if (name.find('@') != std::string_view::npos && !kTemplateTypes.count(suffix)) {
    return bad("invalid unit type for template: \"" + std::string(suffix) + "\"");
  }
  std::string_view base = name.substr(0, dot);
  for (std::size_t i = 0; i < base.size();) {
    unsigned char c = static_cast<unsigned char>(base[i]);
    std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    len = std::min(len, base.size() - i);
    bool okc = len == 1 && (std::isalnum(c) || c == ':' || c == '-' || c == '_' || c == '.' ||
                            c == '\\' || c == '@');
    if (!okc) {
      return bad("invalid character " + go_quote_rune(base.substr(i, len)) + " in unit name");
    }
    i += len;
  }
  if (name.front() == '@') return bad("unit name cannot start in \"@\"");
  return ok();
}

std::optional<UnitNameInfo> unit_name_info(std::string_view name) {
  auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return std::nullopt;
  UnitNameInfo info;
  info.full_name = std::string(name);
  info.name = std::string(name.substr(0, dot));
  info.suffix = std::string(name.substr(dot));
  auto at = info.name.find('@');
  if (at == std::string::npos) {
    info.prefix = info.name;
    return info;
  }
  info.prefix = info.name.substr(0, at);
  info.template_name = info.prefix + "@" + info.suffix;
  info.instance = info.name.substr(at + 1);
  return info;
}

std::string append_default_unit_type(std::string_view arg) {
  static constexpr std::string_view kSuffixes[] = {".service", ".socket", ".timer",    ".path",
                                                   ".device",  ".mount",  ".automount"};
  for (auto s : kSuffixes) {
    if (arg.ends_with(s)) return std::string(arg);
  }
  return std::string(arg) + ".service";
}

std::string mangle_unit_name(std::string_view arg) {
  auto slash = arg.rfind('/');
  if (slash != std::string_view::npos) arg = arg.substr(slash + 1);
  return append_default_unit_type(arg);
}

}  // namespace fleet::fleetctl
