#include "fleetd/config/config.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fleetd/config/command_line.h"

using namespace fleet;
using namespace fleet::fleetd;
using namespace std::chrono_literals;

namespace {

// Files by path; a value of "<dir>" stands for a directory.
FileReader fake_files(std::map<std::string, std::string> files) {
  return [files = std::move(files)](const std::string& p) -> Result<std::optional<std::string>> {
    auto it = files.find(p);
    if (it == files.end()) return std::optional<std::string>();
    if (it->second == "<dir>") return fail(Errc::invalid_argument, "is a directory");
    return std::optional<std::string>(it->second);
  };
}

Result<LoadedConfig> load(std::vector<std::string> args,
                          std::map<std::string, std::string> env = {},
                          std::map<std::string, std::string> files = {}) {
  auto cl = parse_command_line(args);
  if (!cl) return cl.error();
  // The TLS paths the tests name exist (empty); a test that wants one missing uses another path.
  for (const char* tls : {"/c", "/k", "/ca", "/c.pem", "/some/where"}) files.emplace(tls, "");
  return load_config(cl.value().flags, env_from_map(std::move(env)), fake_files(std::move(files)));
}

std::string error_of(const Result<LoadedConfig>& r) {
  REQUIRE(r.has_error());
  return r.error().message;
}

using Map = std::map<std::string, std::string>;
const std::string kConf(kDefaultConfFile);
const std::string kYaml(kDefaultYamlFile);

}  // namespace

TEST_CASE("with no sources every key keeps its built-in default") {
  auto c = load({}).value();
  CHECK(c.config.etcd_servers ==
        std::vector<std::string>{"http://127.0.0.1:2379", "http://127.0.0.1:4001"});
  CHECK(c.config.etcd_key_prefix == "/fleet/");
  CHECK(c.config.agent_ttl == 10s);  // fleet: 30 s (issue #14: failover <= 12 s)
  CHECK(c.config.engine_reconcile_interval == 2s);
  CHECK(c.config.engine_lease_ttl == 10s);  // 5 × interval
  CHECK(c.config.etcd_request_timeout == 1s);
  CHECK(c.config.token_limit == 1000);  // fleet: 100 (fewer round trips per listing)
  CHECK(c.config.units_directory == "/run/fleet/units/");
  CHECK(c.config.api_listen == std::vector<std::string>{"unix:///var/run/fleet.sock"});
  CHECK(c.config.machine_id_file == "/etc/machine-id");
  CHECK_FALSE(c.config.dev);
  CHECK(c.files.empty());
  CHECK(c.warnings.empty());
  CHECK(c.origins.at("agent_ttl") == "default");
}

TEST_CASE("an existing fleet host's fleet.conf works unchanged") {
  auto c = load({}, {},
                {{kConf,
                  "# written for CoreOS fleet\n"
                  "etcd_servers=[\"http://10.0.0.1:2379\",\"http://10.0.0.2:2379\"]\n"
                  "etcd_key_prefix=/_coreos.com/fleet/\n"
                  "public_ip=\"10.0.0.5\"\n"
                  "metadata=\"region=us-west,disk=ssd\"\n"
                  "agent_ttl=45s\n"
                  "engine_reconcile_interval=5.0\n"
                  "etcd_request_timeout=1.5\n"
                  "disable_engine=true\n"
                  "verbosity=1\n"}})
               .value();
  CHECK(c.files == std::vector<std::string>{kConf});
  CHECK(c.config.etcd_servers ==
        std::vector<std::string>{"http://10.0.0.1:2379", "http://10.0.0.2:2379"});
  CHECK(c.config.etcd_key_prefix == "/_coreos.com/fleet/");
  CHECK(c.config.public_ip == "10.0.0.5");
  CHECK(c.config.metadata == Map{{"disk", "ssd"}, {"region", "us-west"}});
  CHECK(c.config.agent_ttl == 45s);
  CHECK(c.config.engine_reconcile_interval == 5s);
  CHECK(c.config.engine_lease_ttl == 25s);
  CHECK(c.config.etcd_request_timeout == 1500ms);
  CHECK(c.config.disable_engine);
  CHECK(c.config.verbosity == 1);
  CHECK(c.origins.at("agent_ttl") == kConf);
}

TEST_CASE("YAML file: scalars, lists and maps") {
  auto c = load({}, {},
                {{kYaml,
                  "etcd_servers:\n  - https://e1:2379\n  - https://e2:2379\n"
                  "metadata:\n  region: eu\n  rack: 7\n"
                  "api_listen: [unix:///run/fleet.sock, \"tcp://127.0.0.11:49153\"]\n"
                  "agent_ttl: 1m30s\n"
                  "disable_watches: yes\n"
                  "token_limit: 5\n"
                  "engine_reconcile_interval: 0.5\n"
                  "public_ip:\n"}})
               .value();
  CHECK(c.config.etcd_servers == std::vector<std::string>{"https://e1:2379", "https://e2:2379"});
  CHECK(c.config.metadata == Map{{"rack", "7"}, {"region", "eu"}});
  CHECK(c.config.api_listen ==
        std::vector<std::string>{"unix:///run/fleet.sock", "tcp://127.0.0.11:49153"});
  CHECK(c.config.agent_ttl == 90s);
  CHECK(c.config.disable_watches);
  CHECK(c.config.token_limit == 5);
  CHECK(c.config.engine_reconcile_interval == 500ms);
  CHECK(c.config.public_ip.empty());
  // Scalars in fleet's comma syntax work for list and map keys too.
  auto s =
      load({}, {}, {{kYaml, "etcd_servers: http://a:1,http://b:2\nmetadata: a=1,b=2\n"}}).value();
  CHECK(s.config.etcd_servers.size() == 2);
  CHECK(s.config.metadata.size() == 2);
}

TEST_CASE("YAML errors name the key, the file and the line") {
  CHECK(error_of(load({}, {}, {{kYaml, "agent_ttl: 30s\nagnet_ttl: 40s\n"}})) ==
        "unknown key \"agnet_ttl\" in /etc/fleet/fleet.yaml line 2 (did you mean agent_ttl?)");
  CHECK(error_of(load({}, {}, {{kYaml, "agent_ttl: [1, 2]\n"}})) ==
        "invalid value for agent_ttl in /etc/fleet/fleet.yaml: expected a single duration value");
  CHECK(error_of(load({}, {}, {{kYaml, "metadata: [a, b]\n"}})).find("for metadata") !=
        std::string::npos);
  CHECK(error_of(load({}, {}, {{kYaml, "etcd_servers: [[a]]\n"}})).find("list of strings") !=
        std::string::npos);
  CHECK(error_of(load({}, {}, {{kYaml, "a: [\n"}})).find("invalid YAML in /etc/fleet/fleet.yaml") ==
        0);
  CHECK(error_of(load({}, {}, {{kYaml, "- a\n- b\n"}})).find("expected a map") !=
        std::string::npos);
  CHECK(error_of(load({}, {}, {{kYaml, "config: /x.yaml\n"}})).find("only be given as a flag") !=
        std::string::npos);
  // An empty file is no configuration, not an error.
  CHECK(load({}, {}, {{kYaml, ""}}).has_value());
}

TEST_CASE("bad values are refused with the key, the source and what was expected") {
  CHECK(error_of(load({}, {}, {{kConf, "agent_ttl=abc\n"}})) ==
        "invalid value \"abc\" for agent_ttl in /etc/fleet/fleet.conf: expected a duration like "
        "30s, 1m30s or 500ms");
  CHECK(error_of(load({}, {{"FLEET_TOKEN_LIMIT", "many"}})) ==
        "invalid value \"many\" for token_limit in environment variable FLEET_TOKEN_LIMIT: "
        "expected an integer");
  CHECK(error_of(load({"--disable_engine=maybe"})) ==
        "invalid value \"maybe\" for disable_engine in flag --disable_engine: expected true or "
        "false");
  CHECK(error_of(load({"--etcd_servers=10.0.0.1:2379"})).find("http:// or https://") !=
        std::string::npos);
  CHECK(error_of(load({"--public_ip=10.0.0.300"})).find("for public_ip") != std::string::npos);
  CHECK(load({"--public_ip=fd00::1"}).has_value());
  CHECK(error_of(load({"--metadata=region"})).find("for metadata") != std::string::npos);
  CHECK(error_of(load({"--agent_ttl=0s"})).find("above 0") != std::string::npos);
  CHECK(error_of(load({"--engine_reconcile_interval=0"})).find("above 0") != std::string::npos);
  CHECK(error_of(load({"--token_limit=0"})) ==
        "invalid value \"0\" for token_limit in flag --token_limit: expected an integer from 1 "
        "to 65535");
  CHECK(error_of(load({"--verbosity=-1"})).find("for verbosity") != std::string::npos);
  CHECK(error_of(load({"--etcd_key_prefix=fleet"})).find("starting with '/'") != std::string::npos);
  CHECK(error_of(load({"--units_directory="})).find("for units_directory") != std::string::npos);
  CHECK(error_of(load({"--api_listen=http://x"})).find("unix:///path or tcp://host:port") !=
        std::string::npos);
  CHECK(error_of(load({"--api_listen=unix://relative"})).find("absolute") != std::string::npos);
  CHECK(error_of(load({"--api_listen=tcp://host:99999"})).find("for api_listen") !=
        std::string::npos);
  CHECK(load({"--api_listen=tcp://[::1]:8080,tcp://localhost:1"}).has_value());
}

TEST_CASE("token_limit must fit a page token's 16 bits, at start-up and on reload") {
  // 65536 used to be truncated to 0: every listing came back empty.
  CHECK(error_of(load({}, {{"FLEET_TOKEN_LIMIT", "65536"}})) ==
        "invalid value \"65536\" for token_limit in environment variable FLEET_TOKEN_LIMIT: "
        "expected an integer from 1 to 65535");
  CHECK(error_of(load({}, {}, {{kYaml, "token_limit: 100000\n"}})) ==
        "invalid value \"100000\" for token_limit in /etc/fleet/fleet.yaml: expected an integer "
        "from 1 to 65535");
  CHECK(error_of(load({}, {}, {{kConf, "token_limit=70000\n"}}))
            .find("for token_limit in " + kConf) != std::string::npos);
  CHECK(load({"--token_limit=65535"}).value().config.token_limit == 65535);

  // SIGHUP re-runs the whole start-up path: a bad value there is refused the same way.
  const char* argv[] = {"fleetd", "--token_limit=65536"};
  std::ostringstream out, err;
  LoadedConfig loaded;
  CHECK(startup(2, argv, env_from_map({}), fake_files({}), out, err, loaded) == 1);
  CHECK(err.str() ==
        "invalid value \"65536\" for token_limit in flag --token_limit: expected an integer from 1 "
        "to 65535\n");
}

TEST_CASE("a unix socket path too long for sockaddr_un is a configuration error") {
  // It used to reach bind() and abort fleetd with an uncaught exception (exit 134).
  const std::string path = "/run/" + std::string(103, 'p');  // 108 bytes
  const std::string flag = "--api_listen=unix://" + path;
  const char* argv[] = {"fleetd", flag.c_str()};
  std::ostringstream out, err;
  LoadedConfig loaded;
  CHECK(startup(2, argv, env_from_map({}), fake_files({}), out, err, loaded) == 1);
  CHECK(err.str() == "invalid value \"unix://" + path +
                         "\" for api_listen in flag --api_listen: expected unix socket paths of "
                         "at most 107 bytes, got one of 108 bytes\n");
  CHECK(load({"--api_listen=unix:///run/" + std::string(102, 'p')}).has_value());
}

TEST_CASE("later sources win: yaml < fleet.conf < env < flags") {
  std::map<std::string, std::string> files{
      {kYaml, "agent_ttl: 10s\nverbosity: 1\ntoken_limit: 7\npublic_ip: 10.0.0.1\n"},
      {kConf, "agent_ttl=20s\nverbosity=2\ntoken_limit=8\n"}};
  std::map<std::string, std::string> env{{"FLEET_AGENT_TTL", "40s"}, {"FLEET_VERBOSITY", "3"}};
  auto c = load({"--agent_ttl=50s"}, env, files).value();
  CHECK(c.config.public_ip == "10.0.0.1");
  CHECK(c.config.token_limit == 8);
  CHECK(c.config.verbosity == 3);
  CHECK(c.config.agent_ttl == 50s);
  CHECK(c.files == std::vector<std::string>{kYaml, kConf});
  CHECK(c.origins.at("public_ip") == kYaml);
  CHECK(c.origins.at("token_limit") == kConf);
  CHECK(c.origins.at("verbosity") == "environment variable FLEET_VERBOSITY");
  CHECK(c.origins.at("agent_ttl") == "flag --agent_ttl");
}

TEST_CASE("an empty FLEET_ variable counts as set") {
  auto c = load({}, {{"FLEET_PUBLIC_IP", ""}, {"FLEET_API_LISTEN", ""}},
                {{kConf, "public_ip=10.1.1.1\n"}})
               .value();
  CHECK(c.config.public_ip.empty());
  CHECK(c.config.api_listen.empty());
  CHECK(error_of(load({}, {{"FLEET_AGENT_TTL", ""}})).find("for agent_ttl") != std::string::npos);
}

TEST_CASE("--config picks one file, its extension picks the format") {
  std::map<std::string, std::string> files{{kYaml, "verbosity: 1\n"},
                                           {kConf, "token_limit=9\n"},
                                           {"/tmp/my.conf", "agent_ttl=11s\n"},
                                           {"/tmp/my.yml", "agent_ttl: 12s\n"},
                                           {"/tmp/dir", "<dir>"}};
  auto conf = load({"--config=/tmp/my.conf"}, {}, files).value();
  CHECK(conf.config.agent_ttl == 11s);
  CHECK(conf.config.verbosity == 0);  // the default files are not read
  CHECK(conf.config.token_limit == 1000);
  CHECK(conf.config.config == "/tmp/my.conf");
  CHECK(conf.files == std::vector<std::string>{"/tmp/my.conf"});
  CHECK(load({"--config", "/tmp/my.yml"}, {}, files).value().config.agent_ttl == 12s);
  CHECK(load({}, {{"FLEET_CONFIG", "/tmp/my.yml"}}, files).value().config.agent_ttl == 12s);
  CHECK(error_of(load({"--config=/tmp/none.yaml"}, {}, files)) ==
        "Unable to use config file /tmp/none.yaml: no such file or directory");
  CHECK(error_of(load({"--config=/tmp/dir"}, {}, files)) ==
        "Unable to use config file /tmp/dir: is a directory");
}

TEST_CASE("fleet.conf: unknown keys and sections warn or are ignored, syntax errors are fatal") {
  auto c = load({}, {}, {{kConf, "agent_ttl=31s\nfoo=bar\n[extra]\nagent_ttl=99s\n"}}).value();
  CHECK(c.config.agent_ttl == 31s);
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0] == "unknown key \"foo\" in /etc/fleet/fleet.conf line 2 - ignoring");
  CHECK(error_of(load({}, {}, {{kConf, "agent_ttl 30s\n"}})) ==
        "invalid config file /etc/fleet/fleet.conf: syntax error at line 1: expected key = value");
}

TEST_CASE("deprecated and unsupported keys are accepted with a warning") {
  auto c = load({}, {}, {{kConf, "verify_units=true\nauthorized_keys_file=/x\nenable_grpc=true\n"}})
               .value();
  REQUIRE(c.warnings.size() == 3);
  CHECK(c.warnings[0] == "Config option verify_units is no longer supported - ignoring");
  CHECK(c.warnings[1] == "Config option authorized_keys_file is no longer supported - ignoring");
  CHECK(c.warnings[2] == "Config option enable_grpc is not supported - ignoring");
  CHECK(load({}, {}, {{kConf, "verify_units=false\n"}}).value().warnings.empty());
}

TEST_CASE("a key given twice in the YAML file is refused, naming the key and the file") {
  CHECK(
      error_of(load({}, {}, {{kYaml, "agent_ttl: 10s\npublic_ip: 10.0.0.1\nagent_ttl: 20s\n"}})) ==
      "duplicate key \"agent_ttl\" in /etc/fleet/fleet.yaml line 3 (first given on line 1)");
  CHECK(error_of(load({}, {}, {{kYaml, "metadata:\n  region: eu\n  region: us\n"}})) ==
        "invalid value for metadata in /etc/fleet/fleet.yaml: duplicate key \"region\" on line 3");
  CHECK(load({}, {}, {{kYaml, "metadata:\n  region: eu\n  disk: ssd\n"}}).has_value());
}

TEST_CASE("a TLS file that cannot be read is named with its key and source") {
  CHECK(error_of(load({"--api_tls_cert=/missing.pem", "--api_tls_key=/k"})) ==
        "invalid value \"/missing.pem\" for api_tls_cert in flag --api_tls_cert: no such file");
  CHECK(error_of(
            load({}, {{"FLEET_API_TLS_KEY", "/missing.key"}}, {{kYaml, "api_tls_cert: /c\n"}})) ==
        "invalid value \"/missing.key\" for api_tls_key in environment variable "
        "FLEET_API_TLS_KEY: no such file");
  CHECK(error_of(load({"--api_tls_cert=/c", "--api_tls_key=/k", "--api_tls_client_ca=/d"}, {},
                      {{"/d", "<dir>"}})) ==
        "invalid value \"/d\" for api_tls_client_ca in flag --api_tls_client_ca: is a directory");
  CHECK(error_of(load({}, {}, {{kConf, "etcd_cafile=/nope.pem\n"}})) ==
        "invalid value \"/nope.pem\" for etcd_cafile in /etc/fleet/fleet.conf: no such file");
  CHECK(error_of(load({"--etcd_certfile=/c", "--etcd_keyfile=/gone"})).find("for etcd_keyfile") !=
        std::string::npos);
  // --dev has no etcd, so its files are not needed.
  CHECK(load({"--dev", "--etcd_cafile=/nope.pem"}).has_value());
}

TEST_CASE("cross-key rules name both keys") {
  CHECK(error_of(load({"--etcd_certfile=/c.pem"})) ==
        "etcd_certfile is set (in flag --etcd_certfile) but etcd_keyfile is not: a TLS client "
        "certificate needs its key");
  CHECK(error_of(load({"--api_tls_key=/k"})).find("api_tls_key is set") == 0);
  CHECK(error_of(load({"--api_tls_client_ca=/ca"})).find("api_tls_cert is not") !=
        std::string::npos);
  CHECK(load({"--api_tls_cert=/c", "--api_tls_key=/k", "--api_tls_client_ca=/ca"}).has_value());
  CHECK(error_of(load({"--engine_lease_ttl=2s"})).find("must be longer than") != std::string::npos);
  CHECK(load({"--engine_lease_ttl=3s"}).value().config.engine_lease_ttl == 3s);
  CHECK(error_of(load({"--etcd_servers="})).find("--dev") != std::string::npos);
  auto dev = load({"--dev", "--etcd_servers="}).value();
  CHECK(dev.config.dev);
  CHECK(dev.config.etcd_servers.empty());
}

TEST_CASE("a misspelt key gets a suggestion, a far-off one does not") {
  CHECK(suggest_key("agent-ttl") == " (did you mean agent_ttl?)");
  CHECK(suggest_key("etcd_server") == " (did you mean etcd_servers?)");
  CHECK(suggest_key("colour") == "");
  auto c = load({}, {}, {{kConf, "pubilc_ip=10.0.0.1\n"}}).value();
  REQUIRE(c.warnings.size() == 1);
  CHECK(c.warnings[0] ==
        "unknown key \"pubilc_ip\" in /etc/fleet/fleet.conf line 1 - ignoring (did you mean "
        "public_ip?)");
  CHECK(error_of(load({"--disable_engin"})) ==
        "flag provided but not defined: --disable_engin (did you mean disable_engine?)");
}

TEST_CASE("the key prefix always ends with a slash") {
  CHECK(load({"--etcd_key_prefix=/_coreos.com/fleet"}).value().config.etcd_key_prefix ==
        "/_coreos.com/fleet/");
}

TEST_CASE("repeated list and map flags accumulate, repeated scalars keep the last") {
  auto c = load({"--api_listen=unix:///a", "--api_listen", "tcp://127.0.0.11:49153",
                 "--metadata=a=1", "--metadata=b=2", "--agent_ttl=5s", "--agent-ttl=6s"},
                {{"FLEET_METADATA", "z=9"}})
               .value();
  CHECK(c.config.api_listen == std::vector<std::string>{"unix:///a", "tcp://127.0.0.11:49153"});
  CHECK(c.config.metadata == Map{{"a", "1"}, {"b", "2"}});
  CHECK(c.config.agent_ttl == 6s);
}

TEST_CASE("help lists every key with its type and default") {
  auto help = config_help();
  std::set<std::string_view> names;
  for (const auto& k : config_keys()) {
    CAPTURE(k.name);
    CHECK(names.insert(k.name).second);  // declared once
    CHECK(help.find("  " + std::string(k.name) + " (" + std::string(to_string(k.type))) !=
          std::string::npos);
    CHECK_FALSE(k.help.empty());
  }
  CHECK(names.size() == 30);
  CHECK(help.find("agent_ttl (duration, default 10s)") != std::string::npos);
  CHECK(help.find("etcd_servers (list, default http://127.0.0.1:2379,http://127.0.0.1:4001)") !=
        std::string::npos);
  CHECK(help.find("etcd_key_prefix (string, default /fleet/)") != std::string::npos);
  CHECK(help.find("engine_reconcile_interval (seconds, default 2)") != std::string::npos);
  CHECK(help.find("public_ip (string, default \"\")") != std::string::npos);
}

TEST_CASE("every key can be set from every source") {
  const Config defaults;
  for (const auto& k : config_keys()) {
    CAPTURE(k.name);
    // A valid non-default value per type.
    std::string v;
    switch (k.type) {
      case KeyType::boolean:
        v = "true";
        break;
      case KeyType::integer:
        v = "3";
        break;
      case KeyType::duration:
        v = "45s";
        break;
      case KeyType::seconds:
        v = "3";
        break;
      case KeyType::map:
        v = "k=v";
        break;
      case KeyType::list:
        v = k.name == "etcd_servers" ? "http://x:1" : "tcp://127.0.0.1:1";
        break;
      default:
        v = "/some/where";
        break;
    }
    if (k.name == "public_ip") v = "10.9.9.9";
    if (k.name == "log_format") v = "json";
    std::vector<std::string> extra;
    if (k.name == "etcd_keyfile") extra = {"--etcd_certfile=/c"};
    if (k.name == "etcd_certfile") extra = {"--etcd_keyfile=/k"};
    if (k.name == "api_tls_key") extra = {"--api_tls_cert=/c"};
    if (k.name == "api_tls_cert") extra = {"--api_tls_key=/k"};
    if (k.name == "api_tls_client_ca") extra = {"--api_tls_cert=/c", "--api_tls_key=/k"};
    std::map<std::string, std::string> files;
    if (k.name == "config") files[v] = "";
    std::string env_name = "FLEET_";
    for (char ch : k.name) env_name += static_cast<char>(std::toupper(ch));
    auto via_flag = [&] {
      auto args = extra;
      args.push_back("--" + std::string(k.name) + "=" + v);
      return load(args, {}, files);
    }();
    auto via_env = load(extra, {{env_name, v}}, files);
    REQUIRE(via_flag.has_value());
    REQUIRE(via_env.has_value());
    CHECK(format_value(via_flag.value().config, k) != format_value(defaults, k));
    CHECK(format_value(via_env.value().config, k) == format_value(via_flag.value().config, k));
    if ((k.flags & kKeyNotInFiles) == 0) {
      auto via_conf = load(extra, {}, {{kConf, std::string(k.name) + "=" + v + "\n"}});
      auto via_yaml = load(extra, {}, {{kYaml, std::string(k.name) + ": \"" + v + "\"\n"}});
      REQUIRE(via_conf.has_value());
      REQUIRE(via_yaml.has_value());
      CHECK(format_value(via_conf.value().config, k) == format_value(via_flag.value().config, k));
      CHECK(format_value(via_yaml.value().config, k) == format_value(via_flag.value().config, k));
    }
  }
}

TEST_CASE("the real file reader tells missing files, directories and content apart") {
  char tmpl[] = "/tmp/fleetd_config_test.XXXXXX";
  REQUIRE(mkdtemp(tmpl) != nullptr);
  std::string dir = tmpl;
  std::string file = dir + "/fleet.conf";
  {
    std::ofstream out(file);
    out << "agent_ttl=12s\n";
  }
  auto read = real_file_reader();
  CHECK(read(file).value().value() == "agent_ttl=12s\n");
  CHECK_FALSE(read(dir + "/absent").value().has_value());
  CHECK(read(dir).error().message == "is a directory");
  auto loaded = load_config({{"config", file, "--config"}}, env_from_map({}), read);
  CHECK(loaded.value().config.agent_ttl == 12s);
  std::filesystem::remove_all(dir);
}

TEST_CASE("describe lists every key with its origin and hides the etcd password") {
  auto c = load({"--etcd_password=s3cret", "--agent_ttl=9s"}).value();
  auto d = describe(c);
  CHECK(d.find("s3cret") == std::string::npos);
  CHECK(d.find("etcd_password=*** (flag --etcd_password)\n") != std::string::npos);
  CHECK(d.find("agent_ttl=9s (flag --agent_ttl)\n") != std::string::npos);
  CHECK(d.find("token_limit=1000 (default)\n") != std::string::npos);
}

// The packages install packaging/fleet.yaml as /etc/fleet/fleet.yaml: every key commented out
// with its default. Installed as it is, it changes nothing; with every `# key: value` line
// uncommented it still loads and still changes nothing, so its values cannot drift from the
// built-in defaults, and it names every key a file may set.
TEST_CASE("the sample fleet.yaml names every file key with its default") {
  std::ifstream in(FLEET_SAMPLE_CONFIG);
  REQUIRE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string sample = buf.str();

  std::string uncommented;
  std::set<std::string> named;
  std::istringstream lines(sample);
  for (std::string line; std::getline(lines, line);) {
    auto colon = line.find(':');
    if (line.starts_with("# ") && colon != std::string::npos) {
      const std::string key = line.substr(2, colon - 2);
      if (find_key(key) != nullptr) {
        CHECK_MESSAGE(named.insert(key).second, key << " is given twice");
        line = line.substr(2);
      }
    }
    uncommented += line + "\n";
  }
  for (const auto& key : config_keys()) {
    const bool file_key = (key.flags & (kKeyNotInFiles | kKeyDeprecated | kKeyUnsupported)) == 0;
    CHECK_MESSAGE(named.contains(std::string(key.name)) == file_key, key.name);
  }

  const auto defaults = load({}).value();
  for (const auto& text : {sample, uncommented}) {
    auto loaded = load({}, {}, {{kYaml, text}});
    REQUIRE_MESSAGE(loaded.has_value(), loaded.error().message);
    CHECK(loaded.value().files == std::vector<std::string>{kYaml});
    for (const auto& key : config_keys())
      CHECK_MESSAGE(format_value(loaded.value().config, key) == format_value(defaults.config, key),
                    key.name);
  }
}
