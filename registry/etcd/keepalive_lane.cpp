#include "registry/etcd/keepalive_lane.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>
#include <vector>

#include "registry/etcd/etcd_codec.h"
#include "registry/etcd/etcd_transport.h"

namespace fleet::registry::etcd {

namespace asio = boost::asio;

namespace {

constexpr int kMaxRounds = 20;

}  // namespace

// One keep-alive waiting for its answer; the timer never fires, it is cancelled to wake the
// waiter once `result` is set.
struct KeepAliveLane::Waiter {
  explicit Waiter(asio::io_context& ioc) : timer(ioc, asio::steady_timer::time_point::max()) {}
  asio::steady_timer timer;
  std::optional<Result<std::chrono::seconds>> result;
};

void KeepAliveLane::answer(Waiter& w, Result<std::chrono::seconds> r) {
  w.result = std::move(r);
  w.timer.cancel();
}

struct KeepAliveLane::State {
  State(asio::io_context& i, std::shared_ptr<Transport> t, std::size_t max)
      : ioc(i), transport(std::move(t)), max_requests(std::max<std::size_t>(1, max)) {}
  asio::io_context& ioc;
  std::shared_ptr<Transport> transport;
  std::size_t max_requests;
  std::size_t in_flight = 0;
  std::deque<std::pair<LeaseId, std::shared_ptr<Waiter>>> pending;
};

KeepAliveLane::KeepAliveLane(asio::io_context& ioc, std::shared_ptr<Transport> transport,
                             std::size_t max_requests)
    : st_(std::make_shared<State>(ioc, std::move(transport), max_requests)) {}

KeepAliveLane::~KeepAliveLane() = default;

Task<Result<std::chrono::seconds>> KeepAliveLane::keepalive(LeaseId id) {
  auto st = st_;
  auto waiter = std::make_shared<Waiter>(st->ioc);
  st->pending.emplace_back(id, waiter);
  if (st->in_flight < st->max_requests) {
    ++st->in_flight;
    asio::co_spawn(st->ioc, flush(st), asio::detached);
  }
  if (!waiter->result) {
    (void)co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!waiter->result) co_return fail(Errc::cancelled, "etcd: keep-alive abandoned");
  co_return std::move(*waiter->result);
}

// Renews `ids` and answers their waiters. The gateway may answer only the first part of a batch
// (decode_keepalives()): the rest is sent again, a few times at most.
Task<void> KeepAliveLane::renew(State& st, std::vector<LeaseId> ids,
                                std::vector<std::shared_ptr<Waiter>> waiters) {
  std::size_t done = 0;
  for (int round = 0; done < ids.size(); ++round) {
    std::vector<LeaseId> rest(ids.begin() + static_cast<std::ptrdiff_t>(done), ids.end());
    auto reply = co_await st.transport->post("/v3/lease/keepalive", encode_lease_ids(rest),
                                             {.idempotent = true, .urgent = true});
    std::vector<Result<std::chrono::seconds>> results;
    if (reply) results = decode_keepalives(reply.value().status, reply.value().body, rest.size());
    for (auto& r : results) answer(*waiters[done++], std::move(r));
    if (done == ids.size()) break;
    // Not all answered: the stream either failed (its last line, or no reply at all: the rest
    // fails the same way) or was cut short (the rest goes again, a few times at most).
    Error why{Errc::unavailable, "etcd: keep-alive not answered"};
    if (!reply) {
      why = reply.error();
    } else if (!results.empty() && !results.back() &&
               results.back().error().code != Errc::not_found) {
      why = results.back().error();
    } else if (!results.empty() && round + 1 < kMaxRounds) {
      continue;
    }
    while (done < ids.size()) answer(*waiters[done++], outcome::failure(why));
  }
}

// Sends what is pending, in batches, until nothing is; one of at most max_requests at once.
Task<void> KeepAliveLane::flush(std::shared_ptr<State> st) {
  while (!st->pending.empty()) {
    std::vector<LeaseId> ids;
    std::vector<std::shared_ptr<Waiter>> waiters;
    while (!st->pending.empty() && ids.size() < kMaxBatch) {
      auto& [id, w] = st->pending.front();
      // A waiter whose caller gave up (its timer wait was cancelled) still gets its lease
      // renewed: harmless, and it keeps the batch simple.
      ids.push_back(id);
      waiters.push_back(std::move(w));
      st->pending.pop_front();
    }
    co_await renew(*st, std::move(ids), std::move(waiters));
  }
  --st->in_flight;
}

}  // namespace fleet::registry::etcd
