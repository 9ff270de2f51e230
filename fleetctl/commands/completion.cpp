#include "fleetctl/command.h"
#include "fleetctl/completion_scripts.h"

namespace fleet::fleetctl {

namespace {

int run(CommandContext& ctx) {
  const std::string shell = ctx.args.size() == 1 ? ctx.args[0] : "";
  if (shell == "bash") {
    ctx.io.out << bash_completion_script();
  } else if (shell == "zsh") {
    ctx.io.out << zsh_completion_script();
  } else {
    ctx.io.err << "One shell must be given: bash or zsh\n";
    return kExitFailure;
  }
  ctx.io.out.flush();
  return kExitOk;
}

}  // namespace

Command completion_command() {
  Command c;
  c.name = "completion";
  c.usage = "bash|zsh";
  c.summary = "Print the shell completion script for bash or zsh";
  c.description =
      "Print the script that completes fleetctl's commands and flags, and unit names and machine "
      "IDs from the cluster, in bash or zsh: the same script the fleetctl package installs.\n\n"
      "bash, for the current shell:\n\tsource <(fleetctl completion bash)\n\nbash, for every "
      "shell of this user:\n\tfleetctl completion bash > "
      "~/.local/share/bash-completion/completions/fleetctl\n\nzsh (a directory in $fpath, "
      "before compinit runs):\n\tfleetctl completion zsh > \"${fpath[1]}/_fleetctl\"";
  c.needs_api = false;
  c.run = &run;
  return c;
}

}  // namespace fleet::fleetctl
