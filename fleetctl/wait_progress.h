#pragma once
// What a wait shows besides fleet's per-unit lines. On a terminal, when it waits on more than
// one unit: a line redrawn in place after every poll,
//   `Waiting for 200 units to be launched: 120 done, 78 pending, 2 failed (12s)`,
// and at the end a one-line summary, `200 units: 198 launched, 2 failed (31s)`. Elsewhere
// (pipes, files, CI logs) nothing: fleet's lines only, which scripts parse.

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

#include "fleetctl/command.h"

namespace fleet::fleetctl {

class WaitProgress {
 public:
  WaitProgress(CommandContext& ctx, std::string_view state, std::size_t total);

  // Erases the progress line; call before printing anything else.
  void clear();
  // Redraws the progress line.
  void show(std::size_t done, std::size_t failed);
  // Erases the progress line and prints the summary.
  void finish(std::size_t done, std::size_t failed);

 private:
  long elapsed_seconds() const;

  CommandContext& ctx_;
  std::string state_;
  std::size_t total_ = 0;
  bool enabled_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace fleet::fleetctl
