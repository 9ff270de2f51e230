#pragma once
// fleetd's command line with Go `flag` syntax: `-key`, `--key`, `--key=value`,
// `--key value` (not for booleans, which take `--key` or `--key=false`); `--` ends the flags.
// Dashes in a key are accepted for underscores (`--agent-ttl`). A positional `version` behaves
// like --version; any other positional is refused ("takes no arguments").

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "fleetd/config/config.h"

namespace fleet::fleetd {

enum class Action { run, help, version };

struct CommandLine {
  Action action = Action::run;
  std::vector<FlagSetting> flags;  // config keys, in order
};

// `args` excludes argv[0]; `argv0` is used in messages. Errors are one line, e.g.
// "flag provided but not defined: --nope".
[[nodiscard]] Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                                     std::string_view argv0 = "fleetd");

// "fleetd version <fleet::version()>".
std::string version_text();
// Header, synopsis, sources and precedence, then config_help().
std::string usage_text(std::string_view argv0);

// The whole start-up boundary for main(): parses the command line and every config source.
// Returns an exit code when fleetd must stop now (--help and --version print to `out` and give
// 0; a bad command line prints the error and the usage to `err` and gives 1; a bad config prints
// the error and gives 1). Otherwise fills `loaded` (warnings not yet logged) and returns nullopt.
std::optional<int> startup(int argc, const char* const* argv, const Env& env,
                           const FileReader& files, std::ostream& out, std::ostream& err,
                           LoadedConfig& loaded);

}  // namespace fleet::fleetd
