#include "api/server/unit_inspector.h"

namespace fleet::api::server {

Task<Result<std::optional<std::string>>> StringsBodyStream::next() {
  if (next_ >= pieces_.size()) co_return std::optional<std::string>();
  co_return std::optional<std::string>(pieces_[next_++]);
}

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
  co_return std::shared_ptr<BodyStream>(std::make_shared<StringsBodyStream>(std::move(pieces)));
}

}  // namespace fleet::api::server
