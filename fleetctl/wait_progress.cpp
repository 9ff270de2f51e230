#include "fleetctl/wait_progress.h"

namespace fleet::fleetctl {

namespace {

constexpr std::string_view kEraseLine = "\r\033[K";

}  // namespace

WaitProgress::WaitProgress(CommandContext& ctx, std::string_view state, std::size_t total)
    : ctx_(ctx),
      state_(state),
      total_(total),
      enabled_(total > 1 && ctx.sys.stdout_is_terminal()),
      start_(ctx.sys.now()) {}

long WaitProgress::elapsed_seconds() const {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::seconds>(ctx_.sys.now() - start_).count());
}

void WaitProgress::clear() {
  if (!drawn_) return;
  ctx_.io.out << kEraseLine << std::flush;
  drawn_ = false;
}

void WaitProgress::show(std::size_t done, std::size_t failed) {
  if (!enabled_) return;
  std::size_t pending = total_ - done - failed;
  ctx_.io.out << kEraseLine << "Waiting for " << total_ << " units to be " << state_ << ": " << done
              << " done, " << pending << " pending, " << failed << " failed (" << elapsed_seconds()
              << "s)" << std::flush;
  drawn_ = true;
}

void WaitProgress::finish(std::size_t done, std::size_t failed) {
  if (!enabled_) return;
  clear();
  ctx_.io.out << total_ << " units: " << done << " " << state_ << ", " << failed << " failed ("
              << elapsed_seconds() << "s)\n";
}

}  // namespace fleet::fleetctl
