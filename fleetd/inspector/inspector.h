#pragma once
// LocalInspector: fleetd's UnitInspector (api/server/unit_inspector.h) behind
// `GET /fleet/v1/units/<name>/status` and `/journal`.
//
// For this machine it runs `systemctl status -l --no-pager --full <unit>` and
// `journalctl --unit <unit> --no-pager -n <lines> --output <mode> [-f]` as child processes
// (Subprocess: never blocks the loop; status has a deadline; a journal stream kills and reaps
// its journalctl when it is destroyed, i.e. when the API client goes away).
//
// For another machine it proxies to that machine's API (`MachineRecord::api_url`, http:// only):
// `GET <api_url>/fleet/v1/units/<unit>/status?machineID=<machine>` (and `/journal?...`). The
// explicit machineID makes the remote answer locally (its own ID) instead of proxying again; the
// request also carries `X-Fleet-Proxied: 1`. A remote journal is streamed through piece by piece.
//
// Errors: Errc::invalid_argument for a unit name that could be taken for an option or a path,
// Errc::not_found for a machine not in the registry or without api_url, Errc::unavailable when
// the machine cannot be reached (or its API URL is unusable), Errc::timeout when systemctl does
// not finish in time; a remote API error keeps its message and the Errc of its HTTP status.
//
// Loop affinity: construct and call on the io_context thread of `ex`.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/server/unit_inspector.h"

namespace fleet::registry {
class Registry;
}

namespace fleet::fleetd {

struct InspectorOptions {
  std::chrono::milliseconds status_timeout{10000};  // systemctl status run time
  // Connect + request + response header of a proxied call; also each read of a non-follow body.
  std::chrono::milliseconds proxy_timeout{10000};
  std::size_t max_status_output = 1024 * 1024;
  std::string systemctl = "systemctl";    // program names (tests substitute scripts)
  std::string journalctl = "journalctl";  // searched in PATH unless they contain '/'
};

// Header added to proxied requests (a receiving fleetd never proxies such a request again).
inline constexpr std::string_view kProxiedHeader = "X-Fleet-Proxied";

// Accepts a unit name as a command-line argument: non-empty, no leading '-', no '/', no control
// characters. Errc::invalid_argument naming the unit otherwise.
[[nodiscard]] Status validate_unit_argument(std::string_view unit);

// The command lines run for the own machine (unit already validated).
std::vector<std::string> status_command(const InspectorOptions& opts, const std::string& unit);
std::vector<std::string> journal_command(const InspectorOptions& opts, const std::string& unit,
                                         const api::JournalOptions& journal);

class LocalInspector : public api::server::UnitInspector {
 public:
  LocalInspector(boost::asio::any_io_executor ex, registry::Registry& registry,
                 std::string self_machine_id, InspectorOptions opts = {});
  ~LocalInspector() override;

  api::server::Task<Result<api::CommandOutput>> status(std::string unit,
                                                       std::string machine) override;
  api::server::Task<Result<std::shared_ptr<api::server::BodyStream>>> journal(
      std::string unit, std::string machine, api::JournalOptions options) override;

 private:
  // The API base URL of `machine` (not this one), or why it cannot be asked.
  api::server::Task<Result<std::string>> api_url_of(const std::string& machine);

  boost::asio::any_io_executor ex_;
  registry::Registry& registry_;
  std::string self_;
  InspectorOptions opts_;
};

}  // namespace fleet::fleetd
