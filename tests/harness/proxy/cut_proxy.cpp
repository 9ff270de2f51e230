#include "tests/harness/proxy/cut_proxy.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <map>
#include <stdexcept>
#include <thread>

namespace fleet::testing {

namespace net = boost::asio;
using net::ip::tcp;
constexpr auto use_tuple = net::as_tuple(net::use_awaitable);

// One client connection and, unless it arrived while cut, its upstream.
struct Link {
  explicit Link(net::io_context& io) : client(io), upstream(io) {}
  tcp::socket client;
  tcp::socket upstream;
  void close() {
    boost::system::error_code ec;
    client.close(ec);
    upstream.close(ec);
  }
};

struct CutProxy::Impl : std::enable_shared_from_this<CutProxy::Impl> {
  net::io_context io;
  tcp::acceptor acceptor{io};
  tcp::endpoint target;
  bool cut = false;  // touched only on the proxy's thread
  std::uint64_t next_id = 0;
  std::map<std::uint64_t, std::shared_ptr<Link>> links;
  std::thread thread;
  int port = 0;

  // Copies `from` to `to` while not cut; while cut, what arrives is dropped.
  net::awaitable<void> pump(std::shared_ptr<Link> link, tcp::socket& from, tcp::socket& to) {
    char buf[16 * 1024];
    while (true) {
      auto [ec, n] = co_await from.async_read_some(net::buffer(buf), use_tuple);
      if (ec) break;
      if (cut) continue;
      auto [wec, wn] = co_await net::async_write(to, net::buffer(buf, n), use_tuple);
      if (wec) break;
    }
    link->close();
  }

  // While cut, a new connection is held open without an upstream; what it sends is dropped.
  net::awaitable<void> hold(std::shared_ptr<Link> link) {
    char buf[4096];
    while (true) {
      auto [ec, n] = co_await link->client.async_read_some(net::buffer(buf), use_tuple);
      if (ec) break;
    }
    link->close();
  }

  net::awaitable<void> serve(std::uint64_t id, std::shared_ptr<Link> link) {
    if (cut) {
      co_await hold(link);
    } else {
      auto [ec] = co_await link->upstream.async_connect(target, use_tuple);
      if (!ec) {
        net::co_spawn(io, pump(link, link->upstream, link->client), net::detached);
        co_await pump(link, link->client, link->upstream);
      }
      link->close();
    }
    links.erase(id);
  }

  net::awaitable<void> accept_loop() {
    while (true) {
      auto link = std::make_shared<Link>(io);
      auto [ec] = co_await acceptor.async_accept(link->client, use_tuple);
      if (ec == net::error::operation_aborted) co_return;
      if (ec) continue;
      auto id = next_id++;
      links.emplace(id, link);
      net::co_spawn(io, serve(id, link), net::detached);
    }
  }

  // Runs `f` on the proxy's thread and waits for it.
  template <class F>
  auto on_loop(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    net::post(io, [&task] { task(); });
    return result.get();
  }
};

CutProxy::CutProxy(int target_port) : impl_(std::make_shared<Impl>()) {
  auto& s = *impl_;
  s.target =
      tcp::endpoint(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(target_port));
  boost::system::error_code ec;
  tcp::endpoint listen(net::ip::make_address("127.0.0.1"), 0);
  if (s.acceptor.open(listen.protocol(), ec); !ec) s.acceptor.bind(listen, ec);
  if (!ec) s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error("cut proxy cannot listen: " + ec.message());
  s.port = s.acceptor.local_endpoint().port();
  net::co_spawn(s.io, s.accept_loop(), net::detached);
  s.thread = std::thread([impl = impl_] { impl->io.run(); });
}

CutProxy::~CutProxy() {
  impl_->on_loop([&] {
    boost::system::error_code ec;
    impl_->acceptor.close(ec);
    for (auto& [id, link] : impl_->links) link->close();
    return 0;
  });
  impl_->io.stop();
  impl_->thread.join();
}

int CutProxy::port() const { return impl_->port; }

void CutProxy::cut() {
  impl_->on_loop([&] { return impl_->cut = true; });
}

void CutProxy::heal() {
  impl_->on_loop([&] {
    impl_->cut = false;
    for (auto& [id, link] : impl_->links) link->close();  // their streams lost bytes
    return 0;
  });
}

std::size_t CutProxy::accepted() const {
  return impl_->on_loop([&] { return static_cast<std::size_t>(impl_->next_id); });
}

bool CutProxy::is_cut() const {
  return impl_->on_loop([&] { return impl_->cut; });
}

std::size_t CutProxy::connections() const {
  return impl_->on_loop([&] { return impl_->links.size(); });
}

}  // namespace fleet::testing
