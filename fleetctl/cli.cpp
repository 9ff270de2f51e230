#include "fleetctl/cli.h"

#include <algorithm>
#include <sstream>

#include "api/http_client.h"
#include "common/log.h"
#include "common/version.h"
#include "fleetctl/tabwriter.h"
#include "fleetctl/tunnel.h"
#include "fleetctl/unit_patterns.h"
#include "fleetctl/unit_results.h"

namespace fleet::fleetctl {

namespace {

FlagSpec hidden(FlagSpec f) {
  f.hidden = true;
  return f;
}

std::string env_name(const std::string& flag) {
  std::string out = "FLEETCTL_";
  for (char c : flag) out += c == '-' ? '_' : static_cast<char>(std::toupper(c));
  return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

void print_unknown_command(std::ostream& err, const std::string& name) {
  err << "Error: unknown command \"" << name << "\" for \"fleetctl\"\n";
  std::vector<std::string> suggestions;
  for (const auto& c : all_commands()) {
    if (c.hidden) continue;
    if (c.name.starts_with(name) || edit_distance(c.name, name) <= 2) suggestions.push_back(c.name);
  }
  if (!suggestions.empty()) {
    err << "\nDid you mean this?\n";
    for (const auto& s : suggestions) err << "\t" << s << "\n";
    err << "\n";
  }
  err << "Run 'fleetctl --help' for usage.\n";
}

std::string flag_line(const FlagSpec& f) {
  std::string line = "\t";
  if (f.shorthand) line += std::string("-") + f.shorthand + ", ";
  line += "--" + f.name + "=";
  if (f.type == FlagType::string) {
    line += "\"" + f.default_value + "\"";
  } else if (f.type == FlagType::boolean && f.default_value.empty()) {
    line += "false";
  } else {
    line += f.default_value;
  }
  return line + "\t" + f.usage + "\n";
}

std::string indented(const std::string& text) {
  std::string out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out += line.empty() ? "\n" : "\t" + line + "\n";
  return out;
}

GlobalOptions global_options(const FlagValues& f) {
  GlobalOptions g;
  g.endpoint = f.str("endpoint");
  g.driver = f.str("driver");
  g.tunnel = f.str("tunnel");
  if (!g.tunnel.empty() && g.tunnel.find(':') == std::string::npos) g.tunnel += ":22";
  g.ssh_username = f.str("ssh-username");
  g.ssh_timeout = f.number("ssh-timeout");
  g.strict_host_key_checking = f.boolean("strict-host-key-checking");
  g.known_hosts_file = f.str("known-hosts-file");
  g.key_file = f.str("key-file").empty() ? f.str("etcd-keyfile") : f.str("key-file");
  g.cert_file = f.str("cert-file").empty() ? f.str("etcd-certfile") : f.str("cert-file");
  g.ca_file = f.str("ca-file").empty() ? f.str("etcd-cafile") : f.str("ca-file");
  g.request_timeout = f.number("request-timeout");
  g.debug = f.boolean("debug");
  return g;
}

// Index of the command word: the first argument that is neither a flag nor a global flag's value.
std::size_t command_index(const std::vector<std::string>& args,
                          const std::vector<FlagSpec>& globals) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--") return args.size();
    if (a.starts_with("--")) {
      if (a.find('=') != std::string::npos) continue;
      std::string name = a.substr(2);
      for (const auto& g : globals) {
        bool named = g.name == name ||
                     std::find(g.aliases.begin(), g.aliases.end(), name) != g.aliases.end();
        if (named && g.type != FlagType::boolean) ++i;
      }
      continue;
    }
    if (a.size() > 1 && a[0] == '-') continue;
    return i;
  }
  return args.size();
}

}  // namespace

std::vector<FlagSpec> global_flags() {
  FlagSpec help{"help", FlagType::boolean, "", "Print usage information"};
  help.shorthand = 'h';
  help.aliases = {"h"};
  help.hidden = true;
  FlagSpec quiet{"quiet", FlagType::boolean, "",
                 "Unit commands (submit, load, start, stop, unload, destroy, restart) print "
                 "nothing on stdout; errors and warnings still go to stderr."};
  quiet.shorthand = 'q';
  quiet.aliases = {"q"};
  return {
      {"ca-file", FlagType::string, "",
       "Path to CA file used for TLS communication with the fleet API."},
      {"cert-file", FlagType::string, "", "Path to TLS client certificate file for the fleet API."},
      {"debug", FlagType::boolean, "", "Print out more debug information to stderr"},
      {"driver", FlagType::string, "API",
       "Adapter used to execute fleetctl commands. Only \"API\" is supported."},
      {"endpoint", FlagType::string, "unix:///var/run/fleet.sock",
       "Location of the fleet API: unix://PATH, http://HOST:PORT or https://HOST:PORT."},
      {"etcd-key-prefix", FlagType::string, "/_coreos.com/fleet/",
       "Keyspace for fleet data in etcd (etcd driver only; unused)."},
      {"key-file", FlagType::string, "", "Path to TLS client key file for the fleet API."},
      {"known-hosts-file", FlagType::string, "",
       "File used to store remote machine fingerprints (default ~/.fleetctl/known_hosts). Ignored "
       "if strict host key checking is disabled."},
      {"request-timeout", FlagType::number, "3",
       "Amount of time in seconds to allow a single request before considering it failed."},
      {"ssh-timeout", FlagType::number, "10",
       "Amount of time in seconds to allow for SSH connection initialization before failing."},
      {"ssh-username", FlagType::string, "core",
       "Username to use when connecting to CoreOS instance."},
      {"strict-host-key-checking", FlagType::boolean, "true",
       "Verify host keys presented by remote machines before initiating SSH connections."},
      {"tunnel", FlagType::string, "",
       "Establish an SSH tunnel through the provided address for communication with fleet: the "
       "API is reached through it, and ssh uses it as a jump host."},
      {"version", FlagType::boolean, "", "Print the version and exit"},
      quiet,
      help,
      hidden({"experimental-api", FlagType::boolean, "true", "DEPRECATED: do not use this flag."}),
      hidden({"etcd-keyfile", FlagType::string, "", "DEPRECATED: do not use this flag."}),
      hidden({"etcd-certfile", FlagType::string, "", "DEPRECATED: do not use this flag."}),
      hidden({"etcd-cafile", FlagType::string, "", "DEPRECATED: do not use this flag."}),
  };
}

const Command* find_command(const std::string& name) {
  const Command* prefix_match = nullptr;
  int prefix_matches = 0;
  for (const auto& c : all_commands()) {
    if (c.name == name) return &c;
    if (!name.empty() && c.name.starts_with(name)) {
      prefix_match = &c;
      ++prefix_matches;
    }
  }
  return prefix_matches == 1 ? prefix_match : nullptr;
}

void print_root_help(std::ostream& out) {
  std::string text =
      "NAME:\n\tfleetctl - fleetctl is a command-line interface to fleet, the cluster-wide CoreOS "
      "init system.\n\nUSAGE:\n\tfleetctl [global options] <command> [command options] "
      "[arguments...]\n\nVERSION:\n\t";
  text += std::string(fleet::version()) + "\n\nCOMMANDS:\n";
  for (const auto& c : all_commands()) {
    if (!c.hidden) text += "\t" + c.name + "\t" + c.summary + "\n";
  }
  text += "\nGLOBAL OPTIONS:\n";
  for (const auto& f : global_flags()) {
    if (!f.hidden) text += flag_line(f);
  }
  text +=
      "\nGlobal options can also be configured via upper-case environment variables prefixed by "
      "\"FLEETCTL_\"\nFor example, \"some-flag\" => \"FLEETCTL_SOME_FLAG\"\n\nRun \"fleetctl "
      "help <command>\" for more details on a specific command.\n";
  out << tabwrite(text);
}

void print_command_help(std::ostream& out, const Command& c) {
  std::string text = "NAME:\n\tfleetctl " + c.name + " - " + c.summary + "\n\nUSAGE:\n\tfleetctl " +
                     c.name + (c.usage.empty() ? "" : " " + c.usage) + "\n";
  if (!c.description.empty()) text += "\nDESCRIPTION:\n" + indented(c.description);
  std::string opts;
  for (const auto& f : c.flags) {
    if (!f.hidden) opts += flag_line(f);
  }
  if (!opts.empty()) text += "\nOPTIONS:\n" + opts;
  out << tabwrite(text);
}

namespace {

// Command line > FLEETCTL_<FLAG> > default, for global flags only. False (reported) on an
// invalid value.
bool apply_flag_environment(const std::vector<FlagSpec>& globals, FlagValues& flags, CliEnv& env) {
  for (const auto& f : globals) {
    if (flags.changed(f.name) || f.name == "help" || f.name == "version") continue;
    auto value = env.sys.getenv(env_name(f.name));
    if (!value || value->empty()) continue;
    if (auto why = invalid_value_reason(f.type, *value)) {
      env.io.err << "Error: invalid value \"" << *value << "\" for " << env_name(f.name) << ": "
                 << *why << "\n";
      return false;
    }
    flags.set(f.name, *value);
  }
  return true;
}

bool check_unit_arguments(const std::vector<std::string>& args, Output& io) {
  for (const auto& arg : args) {
    if (auto st = check_unit_argument(arg); !st) {
      io.err << "Error: " << st.error().message << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int run_fleetctl(const std::vector<std::string>& args, CliEnv& env) {
  Output& io = env.io;
  if (args.empty()) {
    print_root_help(io.out);
    return kExitOk;
  }
  if (args[0] == "--version" || args[0] == "-v") {
    io.out << "fleetctl version " << fleet::version() << "\n";
    return kExitOk;
  }
  const std::vector<FlagSpec> globals = global_flags();
  std::size_t at = command_index(args, globals);
  const Command* cmd = nullptr;
  std::vector<std::string> rest = args;
  if (at < args.size()) {
    cmd = find_command(args[at]);
    if (cmd == nullptr) {
      print_unknown_command(io.err, args[at]);
      return kExitFailure;
    }
    rest.erase(rest.begin() + static_cast<std::ptrdiff_t>(at));
  }
  std::vector<const FlagSpec*> specs;
  for (const auto& f : globals) specs.push_back(&f);
  if (cmd) {
    for (const auto& f : cmd->flags) specs.push_back(&f);
  }
  auto parsed = parse_args(specs, rest, cmd ? cmd->interspersed : true);
  if (!parsed) {
    io.err << "Error: " << parsed.error().message << "\n";
    io.err << (cmd ? "Run 'fleetctl help " + cmd->name + "' for usage.\n"
                   : std::string("Run 'fleetctl --help' for usage.\n"));
    return kExitFailure;
  }
  FlagValues& flags = parsed.value().flags;
  if (flags.boolean("version")) {
    io.out << "fleetctl version " << fleet::version() << "\n";
    return kExitOk;
  }
  if (cmd == nullptr || flags.boolean("help")) {
    if (cmd) {
      print_command_help(io.out, *cmd);
    } else {
      print_root_help(io.out);
    }
    return kExitOk;
  }
  if (!apply_flag_environment(globals, flags, env)) return kExitFailure;
  GlobalOptions global = global_options(flags);
  if (global.debug) log::set_level(log::Level::debug);
  bool creates = cmd->name == "submit" || cmd->name == "load" || cmd->name == "start";
  if (creates && flags.boolean("sign")) {
    // fleet meant to refuse --sign (exit 2) but checked it before parsing flags.
    io.err << kSignDeprecated << "\n";
    return kExitDeprecated;
  }
  if (cmd->unit_args && !check_unit_arguments(parsed.value().positional, io)) return kExitFailure;
  std::unique_ptr<api::ApiClient> client;
  if (cmd->needs_api) {
    auto made = env.make_client(global, io.err);
    if (!made) {
      io.err << "Unable to initialize client: " << made.error().message << "\n";
      return kExitFailure;
    }
    client = std::move(made.value());
  }
  // --quiet: what scripts that only check the exit code want from the unit commands.
  std::ostream discard(nullptr);
  const bool unit_command = cmd->name == "submit" || cmd->name == "load" || cmd->name == "start" ||
                            cmd->name == "stop" || cmd->name == "unload" ||
                            cmd->name == "destroy" || cmd->name == "restart";
  // --format json (start/stop/load/unload/destroy): fleet's lines give way to one object per unit.
  std::optional<ResultFormat> format = ResultFormat::text;
  if (flags.has("format") && unit_command) format = result_format(flags, io.err);
  if (!format) return kExitFailure;
  const bool json = *format == ResultFormat::json;
  const Output cmd_io = (flags.boolean("quiet") || json) && unit_command ? Output{discard, io.err}
                                                                         : Output{io.out, io.err};
  UnitErrors errors;
  CommandContext ctx{cmd_io,
                     client.get(),
                     env.sys,
                     global,
                     env.units,
                     flags,
                     parsed.value().positional,
                     cmd->name,
                     env.poll_interval,
                     std::nullopt,
                     json ? &errors : nullptr};
  if (cmd->unit_args && ctx.api != nullptr) {
    if (auto st = expand_unit_patterns(ctx); !st) {
      io.err << "Error retrieving list of units from repository: " << st.error().message << "\n";
      return kExitFailure;
    }
  }
  const int code = cmd->run(ctx);
  if (json && !flags.boolean("quiet")) print_unit_results(ctx, io.out);
  return code;
}

ClientFactory http_client_factory() {
  return [](const GlobalOptions& g, std::ostream& err) -> Result<std::unique_ptr<api::ApiClient>> {
    if (g.driver == "etcd") {
      return fail(Errc::invalid_argument,
                  "the etcd driver is not supported by this fleetctl; use the API driver");
    }
    if (g.driver != "API") {
      return fail(Errc::invalid_argument, "unrecognized driver \"" + g.driver + "\"");
    }
    BOOST_OUTCOME_TRY(auto endpoints, api::parse_endpoints(g.endpoint));
    api::HttpClientOptions opts;
    opts.endpoint = std::move(endpoints.front());
    if (!g.tunnel.empty() && endpoints.size() > 1) {
      err << "multiple endpoints provided but only the first (" << opts.endpoint.url
          << ") is used through --tunnel\n";
    } else {
      opts.fallbacks.assign(endpoints.begin() + 1, endpoints.end());
    }
    opts.ca_file = g.ca_file;
    opts.cert_file = g.cert_file;
    opts.key_file = g.key_file;
    opts.request_timeout = std::chrono::milliseconds(static_cast<long>(g.request_timeout * 1000));
    if (!g.tunnel.empty()) return open_tunnel_client(g, opts);
    BOOST_OUTCOME_TRY(auto client, api::HttpApiClient::create(std::move(opts)));
    return std::unique_ptr<api::ApiClient>(std::move(client));
  };
}

}  // namespace fleet::fleetctl
