#include "fleetctl/flags.h"

#include <cerrno>
#include <cstdlib>
#include <optional>

namespace fleet::fleetctl {

std::optional<bool> parse_go_bool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

std::optional<std::string> invalid_value_reason(FlagType type, const std::string& value) {
  switch (type) {
    case FlagType::boolean:
      if (!parse_go_bool(value))
        return "strconv.ParseBool: parsing \"" + value + "\": invalid syntax";
      return std::nullopt;
    case FlagType::integer: {
      char* end = nullptr;
      errno = 0;
      std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0') {
        return "strconv.ParseInt: parsing \"" + value + "\": invalid syntax";
      }
      if (errno == ERANGE) return "strconv.ParseInt: parsing \"" + value + "\": value out of range";
      return std::nullopt;
    }
    case FlagType::number: {
      char* end = nullptr;
      std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0') {
        return "strconv.ParseFloat: parsing \"" + value + "\": invalid syntax";
      }
      return std::nullopt;
    }
    case FlagType::string:
      return std::nullopt;
  }
  return std::nullopt;
}

std::string FlagValues::str(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::string() : it->second;
}

bool FlagValues::boolean(const std::string& name) const {
  return parse_go_bool(str(name)).value_or(false);
}

long long FlagValues::integer(const std::string& name) const {
  return std::strtoll(str(name).c_str(), nullptr, 10);
}

double FlagValues::number(const std::string& name) const {
  return std::strtod(str(name).c_str(), nullptr);
}

Result<ParsedArgs> parse_args(const std::vector<const FlagSpec*>& specs,
                              const std::vector<std::string>& args, bool interspersed) {
  ParsedArgs parsed;
  std::map<std::string, const FlagSpec*> by_name;
  std::map<char, const FlagSpec*> by_short;
  for (const FlagSpec* f : specs) {
    by_name[f->name] = f;
    for (const auto& a : f->aliases) by_name[a] = f;
    if (f->shorthand) by_short[f->shorthand] = f;
    parsed.flags.set_default(f->name, f->type == FlagType::boolean && f->default_value.empty()
                                          ? "false"
                                          : f->default_value);
  }
  auto bad = [](std::string msg) { return fail(Errc::invalid_argument, std::move(msg)); };
  auto assign = [&](const FlagSpec* f, const std::string& shown,
                    const std::string& value) -> Status {
    if (auto why = invalid_value_reason(f->type, value)) {
      return bad("invalid argument \"" + value + "\" for \"" + shown + "\" flag: " + *why);
    }
    parsed.flags.set(f->name, value);
    return ok();
  };

  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    if (a.size() > 2 && a.starts_with("--")) {
      std::string body = a.substr(2);
      auto eq = body.find('=');
      std::string name = body.substr(0, eq);
      auto it = by_name.find(name);
      if (it == by_name.end()) return bad("unknown flag: --" + name);
      const FlagSpec* f = it->second;
      std::string shown = "--" + name;
      if (eq != std::string::npos) {
        if (auto st = assign(f, shown, body.substr(eq + 1)); !st) return st.error();
      } else if (f->type == FlagType::boolean) {
        parsed.flags.set(f->name, "true");
      } else if (i + 1 < args.size()) {
        if (auto st = assign(f, shown, args[++i]); !st) return st.error();
      } else {
        return bad("flag needs an argument: " + shown);
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-' && a[1] != '-') {
      // One or more shorthands; a value-taking one consumes the rest of the token or the next
      // argument.
      for (std::size_t k = 1; k < a.size(); ++k) {
        char c = a[k];
        auto it = by_short.find(c);
        if (it == by_short.end()) {
          return bad(std::string("unknown shorthand flag: '") + c + "' in " + a);
        }
        const FlagSpec* f = it->second;
        std::string shown = std::string("-") + c;
        if (f->type == FlagType::boolean) {
          if (k + 1 < a.size() && a[k + 1] == '=') {
            if (auto st = assign(f, shown, a.substr(k + 2)); !st) return st.error();
            break;
          }
          parsed.flags.set(f->name, "true");
          continue;
        }
        std::string value;
        if (k + 1 < a.size()) {
          value = a.substr(a[k + 1] == '=' ? k + 2 : k + 1);
        } else if (i + 1 < args.size()) {
          value = args[++i];
        } else {
          return bad(std::string("flag needs an argument: '") + c + "' in " + a);
        }
        if (auto st = assign(f, shown, value); !st) return st.error();
        break;
      }
      continue;
    }
    if (!interspersed) {
      parsed.positional.insert(parsed.positional.end(), args.begin() + i, args.end());
      break;
    }
    parsed.positional.push_back(a);
  }
  return parsed;
}

}  // namespace fleet::fleetctl
