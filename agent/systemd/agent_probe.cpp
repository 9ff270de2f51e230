// agent_probe: runs SystemdUnitManager operations against the systemd of the host it runs in and
// prints what it saw, one line per fact, for an outer test to assert (the test starts it inside
// a test host with Host::run). Usage:
//   agent_probe [--units-dir DIR] [--timeout-ms N] [--job-timeout-ms N] COMMAND ARGS...
//   load NAME=CONTENT...        CONTENT with "\n" escapes; one batch
//   gen-load PREFIX N [CMD [TYPE]]  N units PREFIX-<i>.service running CMD (/bin/sleep 3600),
//                               of service Type TYPE (systemd's default, simple)
//   start|stop|unload NAME...   NAME may be @PREFIX:N for PREFIX-1.service..PREFIX-N.service
//   list [NAME...]              prints "status unit=... load=... active=... sub=... pid=..."
//   files                       prints "file NAME" per unit file in the units dir
//   start-watch STATE NAME...   subscribes, starts NAMEs and waits (only on state-change
//                               callbacks, no polling) until each reports STATE (active/running)
//   sh COMMAND                  runs COMMAND with /bin/sh (blocking; e.g. restart dbus)
//   wait-disconnected           waits until the manager has noticed its bus connection is gone
//   wait-connected              waits until the manager is connected to the bus again
// Commands separated by a ";" argument run one after the other on one connection; each but the
// last prints "step CMD ok" or "step CMD error code=... message=..." and the next one runs anyway.
// Last line: "result=ok elapsed_ms=N" or "result=error code=... message=..."; exit 0 / 1 / 2.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/systemd/systemd_unit_manager.h"

namespace asio = boost::asio;
using fleet::agent::SystemdUnitManager;
using fleet::agent::Task;
using fleet::agent::UnitStatus;
using Clock = std::chrono::steady_clock;

namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && s[i + 1] == 'n') {
      out += '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> expand(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    auto colon = a.find(':');
    if (a.size() > 1 && a[0] == '@' && colon != std::string::npos) {
      int n = std::atoi(a.c_str() + colon + 1);
      for (int i = 1; i <= n; ++i)
        out.push_back(a.substr(1, colon - 1) + "-" + std::to_string(i) + ".service");
    } else {
      out.push_back(a);
    }
  }
  return out;
}

void print(const char* kind, const UnitStatus& s) {
  std::printf("%s unit=%s load=%s active=%s sub=%s pid=%u\n", kind, s.name.c_str(),
              s.load_state.c_str(), s.active_state.c_str(), s.sub_state.c_str(), s.main_pid);
  std::fflush(stdout);
}

struct Command {
  std::string cmd;
  std::vector<std::string> rest;
};

struct Args {
  std::string units_dir = "/run/fleet/units";
  std::chrono::milliseconds timeout{60000};
  std::optional<std::chrono::milliseconds> job_timeout;  // SystemdOptions::job_timeout
  std::vector<Command> commands;
};

Task<fleet::Status> run_one(SystemdUnitManager& m, const Command& a,
                            std::chrono::milliseconds timeout) {
  if (a.cmd == "load" || a.cmd == "gen-load") {
    std::vector<fleet::agent::UnitFileSpec> specs;
    if (a.cmd == "load") {
      for (const auto& kv : a.rest) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) co_return fleet::fail(fleet::Errc::invalid_argument, kv);
        specs.push_back({kv.substr(0, eq), unescape(kv.substr(eq + 1))});
      }
    } else {
      if (a.rest.size() < 2)
        co_return fleet::fail(fleet::Errc::invalid_argument, "gen-load PREFIX N");
      std::string cmd = a.rest.size() > 2 ? a.rest[2] : "/bin/sleep 3600";
      std::string type = a.rest.size() > 3 ? "Type=" + a.rest[3] + "\n" : "";
      for (int i = 1; i <= std::atoi(a.rest[1].c_str()); ++i)
        specs.push_back({a.rest[0] + "-" + std::to_string(i) + ".service",
                         "[Unit]\nDescription=probe unit " + std::to_string(i) + "\n[Service]\n" +
                             type + "ExecStart=" + cmd + "\n"});
    }
    co_return co_await m.load(std::move(specs));
  }
  if (a.cmd == "start") co_return co_await m.start(expand(a.rest));
  if (a.cmd == "stop") co_return co_await m.stop(expand(a.rest));
  if (a.cmd == "unload") co_return co_await m.unload(expand(a.rest));
  if (a.cmd == "list") {
    auto r = co_await m.list(expand(a.rest));
    if (!r) co_return r.error();
    for (const auto& s : r.value()) print("status", s);
    co_return fleet::ok();
  }
  if (a.cmd == "files") {
    for (const auto& f : m.files_on_disk()) std::printf("file %s\n", f.c_str());
    co_return fleet::ok();
  }
  if (a.cmd == "start-watch") {
    if (a.rest.empty())
      co_return fleet::fail(fleet::Errc::invalid_argument, "start-watch STATE NAME...");
    std::string want = a.rest[0];
    auto names = expand({a.rest.begin() + 1, a.rest.end()});
    std::map<std::string, std::string> last;
    size_t events = 0;
    asio::steady_timer wake(co_await asio::this_coro::executor);
    // The callback names this frame's locals: unset it when the command ends, however it ends.
    struct Unset {
      SystemdUnitManager& m;
      ~Unset() { m.on_state_change(nullptr); }
    } unset{m};
    m.on_state_change([&](const UnitStatus& s) {
      ++events;
      print("event", s);
      last[s.name] = s.active_state + "/" + s.sub_state;
      wake.cancel();
    });
    auto reached = [&] {
      for (const auto& n : names)
        if (last[n] != want) return false;
      return true;
    };
    auto started = co_await m.start(names);
    if (!started) std::printf("start_error %s\n", started.error().describe().c_str());
    auto deadline = Clock::now() + timeout;
    while (!reached() && Clock::now() < deadline) {
      wake.expires_at(deadline);
      co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    std::printf("events=%zu\n", events);
    if (!reached()) {
      std::string missing;
      for (const auto& n : names)
        if (last[n] != want) missing += " " + n + "=" + (last[n].empty() ? "-" : last[n]);
      co_return fleet::fail(fleet::Errc::timeout, "not reached:" + missing);
    }
    co_return fleet::ok();
  }
  if (a.cmd == "sh") {
    std::string line;
    for (const auto& w : a.rest) line += (line.empty() ? "" : " ") + w;
    int rc = std::system(line.c_str());
    if (rc != 0)
      co_return fleet::fail(fleet::Errc::internal, line + ": exit " + std::to_string(rc));
    co_return fleet::ok();
  }
  if (a.cmd == "wait-connected" || a.cmd == "wait-disconnected") {
    // The manager has no connection callback: look every 10 ms (it waits 250 ms before its
    // first reconnect, so a disconnection is seen), up to the timeout.
    const bool want = a.cmd == "wait-connected";
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (auto deadline = Clock::now() + timeout; m.connected() != want;) {
      if (Clock::now() >= deadline) co_return fleet::fail(fleet::Errc::timeout, "not " + a.cmd);
      t.expires_after(std::chrono::milliseconds(10));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return fleet::ok();
  }
  co_return fleet::fail(fleet::Errc::invalid_argument, "unknown command " + a.cmd);
}

Task<fleet::Status> run(const Args& a) {
  fleet::agent::SystemdOptions opts;
  opts.units_dir = a.units_dir;
  if (a.job_timeout) opts.job_timeout = *a.job_timeout;
  auto connected = co_await SystemdUnitManager::connect(opts);
  if (!connected) co_return connected.error();
  auto& m = *connected.value();
  for (size_t i = 0;; ++i) {
    auto r = co_await run_one(m, a.commands[i], a.timeout);
    if (i + 1 == a.commands.size()) co_return r;
    if (r)
      std::printf("step %s ok\n", a.commands[i].cmd.c_str());
    else
      std::printf("step %s error code=%s message=\"%s\"\n", a.commands[i].cmd.c_str(),
                  std::string(fleet::to_string(r.error().code)).c_str(), r.error().message.c_str());
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  int i = 1;
  for (; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--units-dir" && i + 1 < argc) {
      a.units_dir = argv[++i];
    } else if (s == "--timeout-ms" && i + 1 < argc) {
      a.timeout = std::chrono::milliseconds(std::atoi(argv[++i]));
    } else if (s == "--job-timeout-ms" && i + 1 < argc) {
      a.job_timeout = std::chrono::milliseconds(std::atoi(argv[++i]));
    } else {
      break;
    }
  }
  if (i >= argc) {
    std::fprintf(stderr,
                 "usage: agent_probe [--units-dir D] [--timeout-ms N] [--job-timeout-ms N] COMMAND "
                 "ARGS...\n");
    return 2;
  }
  a.commands.emplace_back();
  for (; i < argc; ++i) {
    std::string s = argv[i];
    if (s == ";") {
      a.commands.emplace_back();
    } else if (a.commands.back().cmd.empty()) {
      a.commands.back().cmd = s;
    } else {
      a.commands.back().rest.push_back(s);
    }
  }
  for (const auto& c : a.commands)
    if (c.cmd.empty()) {
      std::fprintf(stderr, "agent_probe: empty command\n");
      return 2;
    }

  asio::io_context io;
  auto begin = Clock::now();
  std::optional<fleet::Status> result;
  auto body = [&]() -> Task<void> { result.emplace(co_await run(a)); };
  asio::co_spawn(io, body(), [](std::exception_ptr e) {
    if (e) std::rethrow_exception(e);
  });
  io.run();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count();
  if (result && result->has_value()) {
    std::printf("result=ok elapsed_ms=%lld\n", static_cast<long long>(ms));
    return 0;
  }
  std::printf("result=error code=%s message=\"%s\"\n",
              result ? std::string(fleet::to_string(result->error().code)).c_str() : "internal",
              result ? result->error().message.c_str() : "no result");
  return 1;
}
