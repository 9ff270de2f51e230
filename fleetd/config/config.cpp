#include "fleetd/config/config.h"

#include <arpa/inet.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/strings.h"

namespace fleet::fleetd {

namespace {

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (auto p : prefixes) {
    if (s.starts_with(p) && s.size() > p.size()) return true;
  }
  return false;
}

bool valid_port(std::string_view p) {
  auto n = parse_int(p);
  return !p.empty() && p.find_first_not_of("0123456789") == std::string_view::npos && n &&
         n.value() >= 1 && n.value() <= 65535;
}

// tcp://host:port, host an IPv4 address, a name or a bracketed IPv6 address.
bool valid_tcp_address(std::string_view hp) {
  if (hp.starts_with("[")) {
    auto close = hp.find(']');
    if (close == std::string_view::npos || hp.substr(close + 1, 1) != ":") return false;
    return valid_port(hp.substr(close + 2));
  }
  auto colon = hp.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  if (hp.substr(0, colon).find_first_of(":/") != std::string_view::npos) return false;
  return valid_port(hp.substr(colon + 1));
}

std::string check_etcd_servers(const Config& c) {
  for (const auto& s : c.etcd_servers) {
    if (!starts_with_any(s, {"http://", "https://"})) {
      return "expected http:// or https:// URLs separated by commas, got \"" + s + "\"";
    }
  }
  return {};
}

std::string check_api_listen(const Config& c) {
  // sockaddr_un holds the path and its NUL.
  constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1;
  for (const auto& s : c.api_listen) {
    std::string_view v = s;
    if (v.starts_with("unix://")) {
      if (v.size() - 7 > kMaxSocketPath)
        return "expected unix socket paths of at most " + std::to_string(kMaxSocketPath) +
               " bytes, got one of " + std::to_string(v.size() - 7) + " bytes";
      if (v.size() > 7 && v[7] == '/') continue;
      return "expected an absolute socket path after unix://, got \"" + s + "\"";
    }
    if (v.starts_with("tcp://") && valid_tcp_address(v.substr(6))) continue;
    return "expected unix:///path or tcp://host:port addresses separated by commas, got \"" + s +
           "\"";
  }
  return {};
}

std::string check_prefix(const Config& c) {
  if (c.etcd_key_prefix.empty() || c.etcd_key_prefix.front() != '/') {
    return "expected a key prefix starting with '/' like /fleet/";
  }
  return {};
}

std::string check_public_ip(const Config& c) {
  if (c.public_ip.empty()) return {};
  unsigned char buf[16];
  if (inet_pton(AF_INET, c.public_ip.c_str(), buf) == 1 ||
      inet_pton(AF_INET6, c.public_ip.c_str(), buf) == 1) {
    return {};
  }
  return "expected an IPv4 or IPv6 address like 10.0.0.5";
}

std::string positive(Duration d) { return d.count() > 0 ? "" : "expected a duration above 0"; }

const std::vector<KeyDescriptor>& key_table() {
  static const std::vector<KeyDescriptor> keys = {
      {"etcd_servers", KeyType::list, &Config::etcd_servers,
       "etcd endpoints (http:// or https:// URLs). fleet.conf style `[\"a\",\"b\"]` is accepted.",
       check_etcd_servers},
      {"etcd_username", KeyType::string, &Config::etcd_username, "etcd user (basic auth)."},
      {"etcd_password", KeyType::string, &Config::etcd_password, "etcd password (basic auth)."},
      {"etcd_keyfile", KeyType::path, &Config::etcd_keyfile,
       "TLS client key for etcd; needs etcd_certfile."},
      {"etcd_certfile", KeyType::path, &Config::etcd_certfile,
       "TLS client certificate for etcd; needs etcd_keyfile."},
      {"etcd_cafile", KeyType::path, &Config::etcd_cafile,
       "CA bundle that verifies etcd's certificate (unlike fleet, also used without a client "
       "certificate)."},
      {"etcd_key_prefix", KeyType::string, &Config::etcd_key_prefix,
       "Key prefix of all fleet records in etcd (fleet used /_coreos.com/fleet/).", check_prefix},
      {"etcd_request_timeout", KeyType::seconds, &Config::etcd_request_timeout,
       "Timeout of one etcd request, in seconds (or a duration like 1500ms).",
       +[](const Config& c) { return positive(c.etcd_request_timeout); }},
      {"engine_reconcile_interval", KeyType::seconds, &Config::engine_reconcile_interval,
       "Sets the default engine_lease_ttl (5 x this), in seconds (or a duration like 500ms); the "
       "engine itself reacts to every change.",
       +[](const Config& c) { return positive(c.engine_reconcile_interval); }},
      {"engine_lease_ttl", KeyType::duration, &Config::engine_lease_ttl,
       "TTL of the engine leader lease; 0 means 5 × engine_reconcile_interval.", nullptr, kKeyOurs},
      {"disable_engine", KeyType::boolean, &Config::disable_engine,
       "Never run the engine (scheduler) on this host."},
      {"disable_watches", KeyType::boolean, &Config::disable_watches,
       "Do not watch etcd; rely on periodic reconciliation only."},
      {"public_ip", KeyType::string, &Config::public_ip,
       "IP address published for this machine; empty: the first global IPv4 address of the "
       "interface carrying the default route.",
       check_public_ip},
      {"metadata", KeyType::map, &Config::metadata,
       "Machine metadata matched by MachineMetadata=, as key=value pairs separated by commas "
       "(a YAML map in fleet.yaml)."},
      {"agent_ttl", KeyType::duration, &Config::agent_ttl,
       "TTL of this machine's presence and unit states in the registry (Go duration syntax).",
       +[](const Config& c) { return positive(c.agent_ttl); }},
      {"units_directory", KeyType::path, &Config::units_directory,
       "Where the agent writes unit files before loading them into systemd.",
       +[](const Config& c) -> std::string {
         return c.units_directory.empty() ? "expected a directory path" : "";
       }},
      {"systemd_user", KeyType::boolean, &Config::systemd_user,
       "Use the user systemd instance instead of the system one."},
      {"token_limit", KeyType::integer, &Config::token_limit,
       "Maximum number of entries per page of API list responses (1 to 65535; fleet: 100).",
       +[](const Config& c) -> std::string {
         // Page tokens carry the limit in 16 bits (api/page_token.h): a larger one would wrap.
         return c.token_limit > 0 && c.token_limit <= 65535 ? ""
                                                            : "expected an integer from 1 to 65535";
       }},
      {"verbosity", KeyType::integer, &Config::verbosity, "Log level: above 0 enables debug logs.",
       +[](const Config& c) -> std::string {
         return c.verbosity >= 0 ? "" : "expected an integer of 0 or more";
       }},
      {"log_format", KeyType::string, &Config::log_format,
       "Log lines on stderr when not running under journald: text or json (one object per "
       "line). Under journald, entries carry priorities and fields instead.",
       +[](const Config& c) -> std::string {
         return c.log_format == "text" || c.log_format == "json" ? "" : "expected text or json";
       },
       kKeyOurs},
      {"api_listen", KeyType::list, &Config::api_listen,
       "API listen addresses: unix:///path or tcp://host:port, separated by commas. Sockets "
       "passed by systemd socket activation are used as well.",
       check_api_listen, kKeyOurs},
      {"api_tls_cert", KeyType::path, &Config::api_tls_cert,
       "TLS certificate served on tcp:// API addresses; needs api_tls_key.", nullptr, kKeyOurs},
      {"api_tls_key", KeyType::path, &Config::api_tls_key, "TLS private key for api_tls_cert.",
       nullptr, kKeyOurs},
      {"api_tls_client_ca", KeyType::path, &Config::api_tls_client_ca,
       "When set, tcp:// API clients must present a certificate signed by this CA.", nullptr,
       kKeyOurs},
      {"machine_id_file", KeyType::path, &Config::machine_id_file,
       "File holding this machine's ID (tests point it elsewhere).",
       +[](const Config& c) -> std::string {
         return c.machine_id_file.empty() ? "expected a file path" : "";
       },
       kKeyOurs},
      {"dev", KeyType::boolean, &Config::dev,
       "Development mode: a single host with an in-memory registry and no etcd.", nullptr,
       kKeyOurs},
      {"config", KeyType::path, &Config::config,
       "Config file to read instead of /etc/fleet/fleet.yaml and /etc/fleet/fleet.conf; a "
       "name ending in .conf is read as fleet.conf, anything else as YAML (flag or env only).",
       nullptr, kKeyNotInFiles | kKeyOurs},
      {"verify_units", KeyType::boolean, &Config::verify_units, "Deprecated in fleet; ignored.",
       nullptr, kKeyDeprecated},
      {"authorized_keys_file", KeyType::path, &Config::authorized_keys_file,
       "Deprecated in fleet; ignored.", nullptr, kKeyDeprecated},
      {"enable_grpc", KeyType::boolean, &Config::enable_grpc,
       "Accepted for compatibility; fleet's experimental gRPC registry is not supported.", nullptr,
       kKeyUnsupported},
  };
  return keys;
}

// Word-wraps `text` at 100 columns, each line indented by `indent`.
std::string wrap(std::string_view text, std::string_view indent) {
  std::string out;
  std::string line(indent);
  for (const auto& word : split_fields(text)) {
    if (line.size() > indent.size() && line.size() + 1 + word.size() > 100) {
      out += line + "\n";
      line = indent;
    }
    if (line.size() > indent.size()) line += ' ';
    line += word;
  }
  return out + line + "\n";
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ",") + i;
  return out;
}

}  // namespace

std::string_view to_string(KeyType t) {
  switch (t) {
    case KeyType::string:
      return "string";
    case KeyType::path:
      return "path";
    case KeyType::integer:
      return "int";
    case KeyType::boolean:
      return "bool";
    case KeyType::duration:
      return "duration";
    case KeyType::seconds:
      return "seconds";
    case KeyType::list:
      return "list";
    case KeyType::map:
      return "map";
  }
  return "?";
}

std::span<const KeyDescriptor> config_keys() { return key_table(); }

const KeyDescriptor* find_key(std::string_view name) {
  for (const auto& k : key_table()) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string suggest_key(std::string_view unknown) {
  // Levenshtein distance over one rolling row; keys are short.
  auto distance = [](std::string_view a, std::string_view b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diag = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diag = up;
      }
    }
    return row[b.size()];
  };
  std::string_view best;
  size_t best_distance = 3;
  for (const auto& k : key_table()) {
    auto d = distance(unknown, k.name);
    if (d < best_distance) {
      best = k.name;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean " + std::string(best) + "?)";
}

std::string format_value(const Config& c, const KeyDescriptor& key) {
  return std::visit(
      [&](auto member) -> std::string {
        const auto& v = c.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, int>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, Duration>) {
          return key.type == KeyType::seconds ? format_seconds(v) : format_duration(v);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          return join(v);
        } else {
          std::string out;
          for (const auto& [k, val] : v) out += (out.empty() ? "" : ",") + k + "=" + val;
          return out;
        }
      },
      key.field);
}

std::string config_help() {
  const Config defaults;
  std::ostringstream out;
  out << "Keys (flag --KEY=VALUE, environment FLEET_<KEY>, or KEY in the config file):\n";
  for (const auto& k : key_table()) {
    auto def = format_value(defaults, k);
    out << "  " << k.name << " (" << to_string(k.type) << ", default "
        << (def.empty() ? "\"\"" : def) << ")\n"
        << wrap(k.help, "      ");
  }
  return out.str();
}

std::string describe(const LoadedConfig& loaded) {
  std::string out;
  for (const auto& k : key_table()) {
    auto v = format_value(loaded.config, k);
    if (k.name == "etcd_password" && !v.empty()) v = "***";
    auto origin = loaded.origins.find(std::string(k.name));
    out += std::string(k.name) + "=" + v + " (" +
           (origin == loaded.origins.end() ? "default" : origin->second) + ")\n";
  }
  return out;
}

Env process_env() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

Env env_from_map(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

FileReader real_file_reader() {
  return [](const std::string& path) -> Result<std::optional<std::string>> {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return std::optional<std::string>();
      return fail(Errc::unavailable, std::strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) return fail(Errc::invalid_argument, "is a directory");
    std::ifstream in(path, std::ios::binary);
    if (!in) return fail(Errc::unavailable, std::strerror(errno));
    std::ostringstream buf;
    buf << in.rdbuf();
    if (in.bad()) return fail(Errc::unavailable, "read error");
    return std::optional<std::string>(buf.str());
  };
}

}  // namespace fleet::fleetd
