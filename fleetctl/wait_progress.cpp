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

std::string WaitProgress::counts(std::size_t done, std::size_t failed) const {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(ctx_.sys.now() - start_).count();
  return std::to_string(done) + " " + state_ + ", " + std::to_string(failed) + " failed (" +
         std::to_string(secs) + "s)";
}

void WaitProgress::clear() {
  if (!drawn_) return;
  ctx_.io.out << kEraseLine << std::flush;
  drawn_ = false;
}

void WaitProgress::show(std::size_t done, std::size_t failed) {
  if (!enabled_) return;
  std::size_t pending = total_ - done - failed;
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(ctx_.sys.now() - start_).count();
  ctx_.io.out << kEraseLine << "Waiting for " << total_ << " units to be " << state_ << ": " << done
              << " done, " << pending << " pending, " << failed << " failed (" << secs << "s)"
              << std::flush;
  drawn_ = true;
}

void WaitProgress::finish(std::size_t done, std::size_t failed) {
  if (!enabled_) return;
  clear();
  ctx_.io.out << total_ << " units: " << counts(done, failed) << "\n";
}

}  // namespace fleet::fleetctl
