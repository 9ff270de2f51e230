#pragma once
// UnitInspector: how the API answers our additions `GET /fleet/v1/units/<name>/status` and
// `/journal` (fleetctl status/journal without SSH). fleetd implements it with local
// systemctl/journalctl for its own machine and by proxying to the owning host's API otherwise;
// FakeUnitInspector (below) serves tests.
//
// Loop affinity: called on the io_context thread; every method may suspend. Errors are values:
// Errc::not_found (the machine is gone or does not know the unit), Errc::unavailable (cannot
// reach the machine), anything else → 500.

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "api/client.h"
#include "api/server/http_message.h"

namespace fleet::api::server {

class UnitInspector {
 public:
  virtual ~UnitInspector() = default;
  // `systemctl status -l <unit>` on `machine`: its output and exit code.
  virtual Task<Result<CommandOutput>> status(std::string unit, std::string machine) = 0;
  // `journalctl --unit <unit> --no-pager -n <lines> --output <mode> [-f]` on `machine`, as a
  // stream (with follow it ends only when the producer stops or the client goes away).
  virtual Task<Result<std::shared_ptr<BodyStream>>> journal(std::string unit, std::string machine,
                                                            JournalOptions options) = 0;
};

// A BodyStream over fixed pieces (what a non-follow journal or a test needs).
class StringsBodyStream : public BodyStream {
 public:
  explicit StringsBodyStream(std::vector<std::string> pieces) : pieces_(std::move(pieces)) {}
  Task<Result<std::optional<std::string>>> next() override;

 private:
  std::vector<std::string> pieces_;
  std::size_t next_ = 0;
};

// Complete in-memory inspector: answers from what tests put in, records every call.
class FakeUnitInspector : public UnitInspector {
 public:
  // Output for (unit, machine); without an entry, status is "● <unit>\n" with exit code 0 and
  // the journal is empty.
  void set_status(const std::string& unit, const std::string& machine, CommandOutput out) {
    status_[{unit, machine}] = std::move(out);
  }
  void set_journal(const std::string& unit, const std::string& machine,
                   std::vector<std::string> pieces) {
    journal_[{unit, machine}] = std::move(pieces);
  }
  // While set, a followed journal (`follow`) never ends: after its pieces it waits until the
  // server drops it, as journalctl -f on a quiet unit does.
  void set_follow_endless(bool endless) { follow_endless_ = endless; }
  // Journal streams handed out and not yet dropped.
  std::size_t open_journals() const { return *open_journals_; }
  // While set, every call fails with this error.
  void set_failure(std::optional<Error> e) { failure_ = std::move(e); }
  // Calls made, e.g. "status a.service m1", "journal a.service m1 lines=10 output=short follow".
  const std::vector<std::string>& calls() const { return calls_; }

  Task<Result<CommandOutput>> status(std::string unit, std::string machine) override;
  Task<Result<std::shared_ptr<BodyStream>>> journal(std::string unit, std::string machine,
                                                    JournalOptions options) override;

 private:
  std::map<std::pair<std::string, std::string>, CommandOutput> status_;
  std::map<std::pair<std::string, std::string>, std::vector<std::string>> journal_;
  std::optional<Error> failure_;
  std::vector<std::string> calls_;
  bool follow_endless_ = false;
  std::shared_ptr<std::size_t> open_journals_ = std::make_shared<std::size_t>(0);
};

}  // namespace fleet::api::server
