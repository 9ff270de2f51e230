#include "api/server/unit_inspector.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace fleet::api::server {

Task<Result<std::optional<std::string>>> StringsBodyStream::next() {
  if (next_ >= pieces_.size()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(pieces_[next_++]);
}

namespace {

// The fake's journal: its pieces, then (when endless) a wait that only cancellation ends; counts
// itself in `open` while alive.
class FakeJournalStream : public BodyStream {
 public:
  FakeJournalStream(std::vector<std::string> pieces, bool endless,
                    std::shared_ptr<std::size_t> open)
      : pieces_(std::move(pieces)), endless_(endless), open_(std::move(open)) {
    ++*open_;
  }
  ~FakeJournalStream() override { --*open_; }

  Task<Result<std::optional<std::string>>> next() override {
    if (next_ < pieces_.size()) co_return std::optional<std::string>(pieces_[next_++]);
    if (endless_) {
      boost::asio::steady_timer forever(co_await boost::asio::this_coro::executor,
                                        boost::asio::steady_timer::time_point::max());
      (void)co_await forever.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
      co_return fail(Errc::cancelled, "journal follow cancelled");
    }
    co_return std::optional<std::string>();
  }

 private:
  std::vector<std::string> pieces_;
  std::size_t next_ = 0;
  bool endless_;
  std::shared_ptr<std::size_t> open_;
};

}  // namespace

Task<Result<CommandOutput>> FakeUnitInspector::status(std::string unit, std::string machine) {
  calls_.push_back("status " + unit + " " + machine);
  if (failure_) co_return outcome::failure(*failure_);
  auto it = status_.find({unit, machine});
  if (it != status_.end()) co_return it->second;
  co_return CommandOutput{"● " + unit + "\n", 0};
}

Task<Result<std::shared_ptr<BodyStream>>> FakeUnitInspector::journal(std::string unit,
                                                                     std::string machine,
                                                                     JournalOptions options) {
  calls_.push_back("journal " + unit + " " + machine + " lines=" + std::to_string(options.lines) +
                   " output=" + options.output + (options.follow ? " follow" : ""));
  if (failure_) co_return outcome::failure(*failure_);
  std::vector<std::string> pieces;
  if (auto it = journal_.find({unit, machine}); it != journal_.end()) pieces = it->second;
  co_return std::shared_ptr<BodyStream>(std::make_shared<FakeJournalStream>(
      std::move(pieces), follow_endless_ && options.follow, open_journals_));
}

}  // namespace fleet::api::server
