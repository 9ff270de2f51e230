#pragma once
// fleetd's configuration: every key of fleet's fleetd plus ours, read from (later wins)
//   built-in defaults → YAML file → fleet.conf (fleet's goini format) → FLEET_<KEY> env → flags.
// One table of key descriptors (config_keys()) drives every source and `fleetd --help`, so a key
// is declared once. Unlike fleet, which silently keeps the default on a bad value, a bad value is
// refused with a message naming the key and the source.

#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "api/page_token.h"
#include "common/result.h"
#include "fleetd/config/config_values.h"

namespace fleet::fleetd {

inline constexpr std::string_view kDefaultYamlFile = "/etc/fleet/fleet.yaml";
inline constexpr std::string_view kDefaultConfFile = "/etc/fleet/fleet.conf";

struct Config {
  // --- fleet's keys ---
  int verbosity = 0;
  std::vector<std::string> etcd_servers{"http://127.0.0.1:2379", "http://127.0.0.1:4001"};
  std::string etcd_username;
  std::string etcd_password;
  std::string etcd_keyfile;
  std::string etcd_certfile;
  std::string etcd_cafile;
  std::string etcd_key_prefix = "/fleet/";  // always ends with '/' after load_config
  Duration etcd_request_timeout = std::chrono::seconds(1);
  Duration engine_reconcile_interval = std::chrono::seconds(2);
  std::string public_ip;  // empty: detect from the default-route interface
  std::map<std::string, std::string> metadata;
  Duration agent_ttl = std::chrono::seconds(10);  // fleet: 30 s (Documentation/configuration.md)
  std::string units_directory = "/run/fleet/units/";
  bool systemd_user = false;
  int token_limit = api::kPageTokenLimit;  // 1,000; fleet: 100 (Documentation/configuration.md)
  bool enable_grpc = false;                // accepted for compatibility; unsupported (warned)
  bool disable_engine = false;
  bool disable_watches = false;
  bool verify_units = false;         // deprecated (warned)
  std::string authorized_keys_file;  // deprecated (warned)
  // --- ours ---
  std::vector<std::string> api_listen{"unix:///var/run/fleet.sock"};  // unix:///p, tcp://h:port
  std::string api_tls_cert;
  std::string api_tls_key;
  std::string api_tls_client_ca;
  std::string machine_id_file = "/etc/machine-id";
  Duration engine_lease_ttl{0};     // 0: 5 × engine_reconcile_interval (resolved by load_config)
  bool dev = false;                 // single host, in-memory registry, no etcd
  std::string log_format = "text";  // stderr outside journald: text or json
  std::string config;               // explicit config file (flag or FLEET_CONFIG); "" = defaults
};

enum class KeyType { string, path, integer, boolean, duration, seconds, list, map };
std::string_view to_string(KeyType t);

using Field =
    std::variant<std::string Config::*, int Config::*, bool Config::*, Duration Config::*,
                 std::vector<std::string> Config::*, std::map<std::string, std::string> Config::*>;

enum KeyFlag : unsigned {
  kKeyNoFlags = 0,
  kKeyDeprecated = 1u << 0,   // accepted, warned when set, ignored
  kKeyUnsupported = 1u << 1,  // accepted, warned when enabled, ignored
  kKeyNotInFiles = 1u << 2,   // only env or flag (`config`)
  kKeyOurs = 1u << 3,         // not one of fleet's keys
};

struct KeyDescriptor {
  std::string_view name;  // snake_case; env FLEET_<NAME>, flag --<name>
  KeyType type;
  Field field;
  std::string_view help;
  // Why the value now stored in `c` is unacceptable ("expected ..."), or "" when it is fine.
  std::string (*check)(const Config& c) = nullptr;
  unsigned flags = kKeyNoFlags;
};

// Every key, in help order.
std::span<const KeyDescriptor> config_keys();
// Exact snake_case name; nullptr when unknown.
const KeyDescriptor* find_key(std::string_view name);
// " (did you mean agent_ttl?)" for a misspelt key within edit distance 2, else "".
std::string suggest_key(std::string_view unknown);
// The value as it would be written in fleet.conf (lists and maps comma-joined).
std::string format_value(const Config& c, const KeyDescriptor& key);
// Every key with its type, default and description (the body of `fleetd --help`).
std::string config_help();

// Seams so tests never touch the real environment or /etc.
using Env = std::function<std::optional<std::string>(const std::string& name)>;
Env process_env();
Env env_from_map(std::map<std::string, std::string> vars);
// Returns the content, nullopt when the path does not exist, or an error (directory, unreadable).
using FileReader = std::function<Result<std::optional<std::string>>(const std::string& path)>;
FileReader real_file_reader();

// One `--key=value` from the command line, in order (see command_line.h).
struct FlagSetting {
  std::string key;      // canonical snake_case name
  std::string value;    // "true" for a bare boolean flag
  std::string spelled;  // as typed, for messages: "--agent-ttl"
};

struct LoadedConfig {
  Config config;
  std::vector<std::string> warnings;  // deprecated/unsupported keys, unknown fleet.conf keys
  std::vector<std::string> files;     // config files read, in order
  // Key → where its final value came from: "default", a file path, "environment variable
  // FLEET_X" or "flag --x".
  std::map<std::string, std::string> origins;
};

// One line per key, `key=value (origin)`, with etcd_password masked: for a debug log at start-up
// and on reload.
std::string describe(const LoadedConfig& loaded);

// Applies every source in order and validates the result. Errors (Errc::invalid_argument) are one
// line naming the key and source, e.g.
//   invalid value "abc" for agent_ttl in /etc/fleet/fleet.conf: expected a duration like 30s ...
[[nodiscard]] Result<LoadedConfig> load_config(const std::vector<FlagSetting>& flags,
                                               const Env& env, const FileReader& files);

}  // namespace fleet::fleetd
