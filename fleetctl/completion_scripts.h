#pragma once
// fleetctl's shell completion scripts, the files packaging/completion installs, embedded at build
// time (cmake/embed_files.cmake) so that `fleetctl completion` prints the same text.

#include <string_view>

namespace fleet::fleetctl {

std::string_view bash_completion_script();
std::string_view zsh_completion_script();

}  // namespace fleet::fleetctl
