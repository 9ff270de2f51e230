#pragma once
// sleep_for in a coroutine on the current executor, measured on fleet::Clock (common/clock.h: tests
// can advance it); a cancellation of the awaiting operation ends it early. The timer stays inside
// sleep.cpp, away from the callers' headers.

#include <boost/asio/awaitable.hpp>
#include <chrono>

namespace fleet {

boost::asio::awaitable<void> sleep_for(std::chrono::milliseconds d);

}  // namespace fleet
