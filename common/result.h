#pragma once
// Errors inside the daemon are values: every fallible internal call returns Result<T>.
// Exceptions are reserved for boundaries a user sees (start-up, fleetctl main, sdbus-c++ calls).

#include <boost/outcome.hpp>
#include <string>
#include <string_view>

namespace fleet {

enum class Errc {
  not_found,
  already_exists,
  conflict,  // a compare-and-swap or precondition failed
  invalid_argument,
  unavailable,  // backend unreachable or without quorum; retrying may help
  timeout,
  cancelled,
  internal,
};

std::string_view to_string(Errc c);

struct Error {
  Errc code = Errc::internal;
  std::string message;

  std::string describe() const { return std::string(to_string(code)) + ": " + message; }
};

namespace outcome = boost::outcome_v2;

template <class T>
using Result = outcome::basic_result<T, Error, outcome::policy::terminate>;

using Status = Result<void>;

inline Error make_error(Errc c, std::string msg) { return Error{c, std::move(msg)}; }

inline auto fail(Errc c, std::string msg) { return outcome::failure(Error{c, std::move(msg)}); }

inline Status ok() { return outcome::success(); }

}  // namespace fleet
