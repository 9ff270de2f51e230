// load_config: applies defaults → YAML → fleet.conf → env → flags through the key table.
#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "common/strings.h"
#include "fleetd/config/config.h"
#include "fleetd/config/goini.h"

namespace fleet::fleetd {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string env_name(std::string_view key) {
  std::string n = "FLEET_";
  for (char c : key) n += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return n;
}

std::string type_hint(KeyType t) {
  switch (t) {
    case KeyType::list:
      return "expected a list of strings";
    case KeyType::map:
      return "expected a map of strings (or key=value pairs separated by commas)";
    default:
      return "expected a single " + std::string(to_string(t)) + " value";
  }
}

class Loader {
 public:
  LoadedConfig out;

  Loader() {
    for (const auto& k : config_keys()) out.origins[std::string(k.name)] = "default";
  }

  // A textual value (fleet.conf, env, flag, YAML scalar). `accumulate` appends to lists and
  // merges into maps instead of replacing (repeated flags).
  Status apply_text(const KeyDescriptor& k, std::string_view raw, const std::string& source,
                    bool accumulate = false) {
    Config next = out.config;
    std::string why;
    auto take = [&](auto parsed, auto& dst) {
      if (parsed) {
        dst = parsed.value();
      } else {
        why = parsed.error().message;
      }
    };
    std::visit(Overloaded{
                   [&](std::string Config::*m) { next.*m = std::string(raw); },
                   [&](int Config::*m) { take(parse_int(raw), next.*m); },
                   [&](bool Config::*m) { take(parse_bool(raw), next.*m); },
                   [&](Duration Config::*m) {
                     take(k.type == KeyType::seconds ? parse_seconds(raw) : parse_duration(raw),
                          next.*m);
                   },
                   [&](std::vector<std::string> Config::*m) {
                     auto items = parse_list(raw);
                     if (!accumulate) (next.*m).clear();
                     (next.*m).insert((next.*m).end(), items.begin(), items.end());
                   },
                   [&](std::map<std::string, std::string> Config::*m) {
                     auto parsed = parse_metadata(raw);
                     if (!parsed) {
                       why = parsed.error().message;
                       return;
                     }
                     if (!accumulate) (next.*m).clear();
                     for (auto& [key, v] : parsed.value()) (next.*m)[key] = v;
                   },
               },
               k.field);
    return commit(k, std::move(next), why, "\"" + std::string(raw) + "\" ", source);
  }

  Status apply_yaml(const KeyDescriptor& k, const YAML::Node& node, const std::string& source) {
    if (node.IsNull()) return apply_text(k, "", source);
    if (node.IsScalar()) return apply_text(k, node.Scalar(), source);
    Config next = out.config;
    std::string why;
    if (node.IsSequence() && k.type == KeyType::list) {
      auto& dst = next.*std::get<std::vector<std::string> Config::*>(k.field);
      dst.clear();
      for (const auto& item : node) {
        if (!item.IsScalar()) {
          why = "expected a list of strings";
          break;
        }
        dst.push_back(item.Scalar());
      }
    } else if (node.IsMap() && k.type == KeyType::map) {
      auto& dst = next.*std::get<std::map<std::string, std::string> Config::*>(k.field);
      dst.clear();
      for (const auto& kv : node) {
        if (!kv.first.IsScalar() || !(kv.second.IsScalar() || kv.second.IsNull())) {
          why = "expected a map of strings";
          break;
        }
        if (dst.contains(kv.first.Scalar())) {
          why = "duplicate key \"" + kv.first.Scalar() + "\" on line " +
                std::to_string(kv.first.Mark().line + 1);
          break;
        }
        dst[kv.first.Scalar()] = kv.second.IsNull() ? "" : kv.second.Scalar();
      }
    } else {
      why = type_hint(k.type);
    }
    return commit(k, std::move(next), why, "", source);
  }

  Status commit(const KeyDescriptor& k, Config next, std::string why, const std::string& shown,
                const std::string& source) {
    if (why.empty() && k.check != nullptr) why = k.check(next);
    if (!why.empty()) {
      return fail(Errc::invalid_argument, "invalid value " + shown + "for " + std::string(k.name) +
                                              " in " + source + ": " + why);
    }
    out.config = std::move(next);
    out.origins[std::string(k.name)] = source;
    return ok();
  }

  Status load_yaml(const std::string& text, const std::string& path) {
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      return fail(Errc::invalid_argument, "invalid YAML in " + path + " line " +
                                              std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
    out.files.push_back(path);
    if (root.IsNull()) return ok();
    if (!root.IsMap()) {
      return fail(Errc::invalid_argument,
                  "invalid YAML in " + path +
                      ": expected a map of keys to values (a fleet.conf file must end in .conf)");
    }
    // yaml-cpp keeps every entry of a mapping, so a repeated key would silently win: refuse it,
    // as the YAML spec does.
    std::map<std::string, std::string> first_line;
    for (const auto& kv : root) {
      auto line = std::to_string(kv.first.Mark().line + 1);
      if (!kv.first.IsScalar()) {
        return fail(Errc::invalid_argument, "invalid key in " + path + " line " + line);
      }
      const auto& name = kv.first.Scalar();
      if (auto [it, fresh] = first_line.emplace(name, line); !fresh) {
        return fail(Errc::invalid_argument, "duplicate key \"" + name + "\" in " + path + " line " +
                                                line + " (first given on line " + it->second + ")");
      }
      const auto* k = find_key(name);
      if (k == nullptr) {
        return fail(Errc::invalid_argument, "unknown key \"" + name + "\" in " + path + " line " +
                                                line + suggest_key(name));
      }
      if ((k->flags & kKeyNotInFiles) != 0) {
        return fail(Errc::invalid_argument, "key \"" + name + "\" in " + path + " line " + line +
                                                " can only be given as a flag or FLEET_" +
                                                env_name(name).substr(6));
      }
      BOOST_OUTCOME_TRY(apply_yaml(*k, kv.second, path));
    }
    return ok();
  }

  Status load_conf(const std::string& text, const std::string& path) {
    auto entries = parse_goini(text);
    if (!entries) {
      return fail(Errc::invalid_argument,
                  "invalid config file " + path + ": " + entries.error().message);
    }
    out.files.push_back(path);
    for (const auto& e : entries.value()) {
      if (!e.section.empty()) continue;  // fleet reads only the global part
      const auto* k = find_key(e.key);
      if (k == nullptr || (k->flags & kKeyNotInFiles) != 0) {
        out.warnings.push_back("unknown key \"" + e.key + "\" in " + path + " line " +
                               std::to_string(e.line) + " - ignoring" + suggest_key(e.key));
        continue;
      }
      BOOST_OUTCOME_TRY(apply_text(*k, e.value, path));
    }
    return ok();
  }

  Status load_file(const FileReader& files, const std::string& path, bool required) {
    auto content = files(path);
    if (!content) {
      return fail(Errc::invalid_argument,
                  "Unable to use config file " + path + ": " + content.error().message);
    }
    if (!content.value()) {
      if (!required) return ok();
      return fail(Errc::invalid_argument,
                  "Unable to use config file " + path + ": no such file or directory");
    }
    if (std::string_view(path).ends_with(".conf")) return load_conf(*content.value(), path);
    return load_yaml(*content.value(), path);
  }

  // A TLS file that cannot be read is named with its key and source here; later, OpenSSL's
  // error would name neither. etcd's files do not matter in --dev, which has no etcd.
  Status check_tls_files(const FileReader& files) {
    for (std::string_view name : {"etcd_cafile", "etcd_certfile", "etcd_keyfile", "api_tls_cert",
                                  "api_tls_key", "api_tls_client_ca"}) {
      if (out.config.dev && name.starts_with("etcd_")) continue;
      const auto* k = find_key(name);
      const std::string path = format_value(out.config, *k);
      if (path.empty()) continue;
      auto content = files(path);
      std::string why;
      if (!content) {
        why = content.error().message;
      } else if (!content.value()) {
        why = "no such file";
      } else {
        continue;
      }
      return fail(Errc::invalid_argument, "invalid value \"" + path + "\" for " +
                                              std::string(name) + " in " +
                                              out.origins[std::string(name)] + ": " + why);
    }
    return ok();
  }

  // Cross-key rules and derived defaults, after every source.
  Status finish() {
    auto& c = out.config;
    if (c.etcd_key_prefix.back() != '/') c.etcd_key_prefix += '/';
    auto origin = [&](std::string_view key) { return out.origins[std::string(key)]; };
    auto pair = [&](std::string_view a, const std::string& va, std::string_view b,
                    const std::string& vb, std::string_view why) -> Status {
      if (!va.empty() && vb.empty()) {
        return fail(Errc::invalid_argument, std::string(a) + " is set (in " + origin(a) + ") but " +
                                                std::string(b) + " is not: " + std::string(why));
      }
      return ok();
    };
    BOOST_OUTCOME_TRY(pair("etcd_certfile", c.etcd_certfile, "etcd_keyfile", c.etcd_keyfile,
                           "a TLS client certificate needs its key"));
    BOOST_OUTCOME_TRY(pair("etcd_keyfile", c.etcd_keyfile, "etcd_certfile", c.etcd_certfile,
                           "a TLS client key needs its certificate"));
    BOOST_OUTCOME_TRY(pair("api_tls_cert", c.api_tls_cert, "api_tls_key", c.api_tls_key,
                           "a TLS certificate needs its key"));
    BOOST_OUTCOME_TRY(pair("api_tls_key", c.api_tls_key, "api_tls_cert", c.api_tls_cert,
                           "a TLS key needs its certificate"));
    BOOST_OUTCOME_TRY(pair("api_tls_client_ca", c.api_tls_client_ca, "api_tls_cert", c.api_tls_cert,
                           "client certificates are only checked over TLS"));
    if (c.etcd_servers.empty() && !c.dev) {
      return fail(Errc::invalid_argument, "etcd_servers is empty (in " + origin("etcd_servers") +
                                              "): give at least one etcd endpoint or use --dev");
    }
    if (c.engine_lease_ttl.count() == 0) {
      c.engine_lease_ttl = 5 * c.engine_reconcile_interval;
    } else if (c.engine_lease_ttl <= c.engine_reconcile_interval) {
      return fail(Errc::invalid_argument, "engine_lease_ttl " +
                                              format_duration(c.engine_lease_ttl) + " (in " +
                                              origin("engine_lease_ttl") +
                                              ") must be longer than engine_reconcile_interval " +
                                              format_duration(c.engine_reconcile_interval) +
                                              ", or the leader loses its lease between renewals");
    }
    // Deprecated and unsupported keys are accepted so old files keep working, but say so.
    const Config defaults;
    for (const auto& k : config_keys()) {
      if ((k.flags & (kKeyDeprecated | kKeyUnsupported)) == 0) continue;
      if (format_value(c, k) == format_value(defaults, k)) continue;
      out.warnings.push_back(
          "Config option " + std::string(k.name) +
          ((k.flags & kKeyDeprecated) != 0 ? " is no longer supported" : " is not supported") +
          " - ignoring");
    }
    return ok();
  }
};

}  // namespace

Result<LoadedConfig> load_config(const std::vector<FlagSetting>& flags, const Env& env,
                                 const FileReader& files) {
  Loader loader;
  std::optional<std::string> explicit_path;
  for (const auto& f : flags) {
    if (f.key == "config") explicit_path = f.value;
  }
  if (!explicit_path) explicit_path = env("FLEET_CONFIG");
  if (explicit_path && !explicit_path->empty()) {
    BOOST_OUTCOME_TRY(loader.load_file(files, *explicit_path, true));
  } else {
    BOOST_OUTCOME_TRY(loader.load_file(files, std::string(kDefaultYamlFile), false));
    BOOST_OUTCOME_TRY(loader.load_file(files, std::string(kDefaultConfFile), false));
  }
  for (const auto& k : config_keys()) {
    auto name = env_name(k.name);
    if (auto v = env(name)) {
      BOOST_OUTCOME_TRY(loader.apply_text(k, *v, "environment variable " + name));
    }
  }
  std::set<std::string> seen;
  for (const auto& f : flags) {
    const auto* k = find_key(f.key);
    if (k == nullptr) return fail(Errc::invalid_argument, "unknown flag " + f.spelled);
    bool again = !seen.insert(f.key).second;
    BOOST_OUTCOME_TRY(loader.apply_text(*k, f.value, "flag " + f.spelled, again));
  }
  BOOST_OUTCOME_TRY(loader.finish());
  BOOST_OUTCOME_TRY(loader.check_tls_files(files));
  return std::move(loader.out);
}

}  // namespace fleet::fleetd
