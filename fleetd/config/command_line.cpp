#include "fleetd/config/command_line.h"

#include <ostream>
#include <sstream>

#include "common/version.h"

namespace fleet::fleetd {

namespace {

constexpr std::string_view kAbout =
    "fleetd is the server component of fleet, a simple orchestration system for scheduling "
    "systemd units in a cluster.";

std::string canonical(std::string_view name) {
  std::string n(name);
  for (char& c : n) {
    if (c == '-') c = '_';
  }
  return n;
}

}  // namespace

Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                       std::string_view argv0) {
  CommandLine cl;
  size_t i = 0;
  for (; i < args.size(); ++i) {
    std::string_view a = args[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.size() < 2 || a.front() != '-') break;  // first positional ends the flags (Go flag)
    std::string_view body = a.substr(a[1] == '-' ? 2 : 1);
    if (body.empty() || body.front() == '-' || body.front() == '=') {
      return fail(Errc::invalid_argument, "bad flag syntax: " + std::string(a));
    }
    std::string_view name = body;
    std::optional<std::string> value;
    if (auto eq = body.find('='); eq != std::string_view::npos) {
      name = body.substr(0, eq);
      value = std::string(body.substr(eq + 1));
    }
    auto key = canonical(name);
    std::string spelled = std::string(a.substr(0, a.size() - body.size())) + std::string(name);
    if (key == "help" || key == "h") {
      cl.action = Action::help;
      continue;
    }
    if (key == "version") {
      auto on = parse_bool(value.value_or("true"));
      if (!on) {
        return fail(Errc::invalid_argument,
                    "invalid boolean value \"" + *value + "\" for flag " + spelled);
      }
      if (on.value() && cl.action == Action::run) cl.action = Action::version;
      continue;
    }
    const auto* k = find_key(key);
    if (k == nullptr) {
      return fail(Errc::invalid_argument,
                  "flag provided but not defined: " + spelled + suggest_key(key));
    }
    if (!value) {
      if (k->type == KeyType::boolean) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return fail(Errc::invalid_argument, "flag needs an argument: " + spelled);
      }
    }
    cl.flags.push_back({key, *value, spelled});
  }
  std::vector<std::string> positional(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (positional.size() == 1 && positional[0] == "version") {
    if (cl.action == Action::run) cl.action = Action::version;
  } else if (!positional.empty()) {
    return fail(
        Errc::invalid_argument,
        std::string(argv0) + " takes no arguments. Did you mean to invoke fleetctl instead?");
  }
  return cl;
}

std::string version_text() { return std::string("fleetd version ") + fleet::version(); }

std::string usage_text(std::string_view argv0) {
  std::ostringstream out;
  out << kAbout << "\n\n"
      << "Usage: " << argv0 << " [--config=PATH] [--KEY=VALUE ...] [--dev] [--version] [--help]\n\n"
      << "Sources, later ones winning: built-in defaults; " << kDefaultYamlFile << " (YAML);\n"
      << kDefaultConfFile << " (fleet's key=value format); environment variables FLEET_<KEY>;\n"
      << "flags. --config=PATH reads PATH instead of both files (as fleet.conf if it ends in\n"
      << ".conf, as YAML otherwise).\n\n"
      << config_help();
  return out.str();
}

std::optional<int> startup(int argc, const char* const* argv, const Env& env,
                           const FileReader& files, std::ostream& out, std::ostream& err,
                           LoadedConfig& loaded) {
  std::string argv0 = argc > 0 && argv[0] != nullptr ? argv[0] : "fleetd";
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) args.emplace_back(argv[i]);
  auto cl = parse_command_line(args, argv0);
  if (!cl) {
    err << cl.error().message << "\n" << usage_text(argv0);
    return 1;
  }
  switch (cl.value().action) {
    case Action::help:
      out << usage_text(argv0);
      return 0;
    case Action::version:
      out << version_text() << "\n";
      return 0;
    case Action::run:
      break;
  }
  auto cfg = load_config(cl.value().flags, env, files);
  if (!cfg) {
    err << cfg.error().message << "\n";
    return 1;
  }
  loaded = std::move(cfg.value());
  return std::nullopt;
}

}  // namespace fleet::fleetd
