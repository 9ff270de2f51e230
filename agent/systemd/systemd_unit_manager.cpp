#include "agent/systemd/systemd_unit_manager.h"

#include <sdbus-c++/sdbus-c++.h>
#include <systemd/sd-bus.h>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "agent/systemd/detail/sdbus_pump.h"
#include "common/backoff.h"
#include "common/log.h"

namespace fleet::agent {
namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr const char* kDest = "org.freedesktop.systemd1";
constexpr const char* kPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnitIface = "org.freedesktop.systemd1.Unit";
constexpr const char* kServiceIface = "org.freedesktop.systemd1.Service";
constexpr const char* kProps = "org.freedesktop.DBus.Properties";
constexpr std::string_view kUnitPathPrefix = "/org/freedesktop/systemd1/unit/";
constexpr size_t kMaxJobResults = 65536;
constexpr size_t kMaxInFlight = 64;
// systemd tracks the client of every job queued over the bus with a NameOwnerChanged match rule
// of its own (one sd_bus_track per job), and dbus-daemon allows one connection 512 match rules
// (max_match_rules_per_connection). A client with ~500 jobs queued at once pushes systemd past
// that: systemd drops off the bus, every pending reply and JobRemoved signal is lost and all
// subscriptions end. So at most kMaxOpenJobs of this manager's jobs are queued at a time,
// leaving the other half of the budget to systemd itself and other clients.
constexpr size_t kMaxOpenJobs = 256;

// ListUnits* row: name, description, load, active, sub, following, path, job id/type/path.
using ListedUnit =
    sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::string,
                  sdbus::ObjectPath, uint32_t, std::string, sdbus::ObjectPath>;
using FileChange = sdbus::Struct<std::string, std::string, std::string>;

// A symlink EnableUnitFiles made in a unit's .wants/, .requires/ or .upholds/ directory.
bool is_install_link(const std::string& path) {
  const std::string dir = fs::path(path).parent_path().filename().string();
  for (std::string_view suffix : {".wants", ".requires", ".upholds"})
    if (dir.size() > suffix.size() && dir.ends_with(suffix)) return true;
  return false;
}

Error from_sdbus(const sdbus::Error& e) {
  const std::string& n = e.getName();
  Errc c = Errc::internal;
  if (n == "org.freedesktop.systemd1.NoSuchUnit") c = Errc::not_found;
  if (n == "org.freedesktop.DBus.Error.InvalidArgs") c = Errc::invalid_argument;
  if (n == "org.freedesktop.DBus.Error.Timeout" || n == "org.freedesktop.DBus.Error.TimedOut")
    c = Errc::timeout;
  // NoReply: systemd left the bus, our connection closed, or the call timed out. The call may
  // not have been carried out, so callers treat it as systemd being unreachable and retry
  // (starting a started unit again does nothing).
  if (n == "org.freedesktop.DBus.Error.NoReply" ||
      n == "org.freedesktop.DBus.Error.ServiceUnknown" ||
      n == "org.freedesktop.DBus.Error.Disconnected" || n == "org.freedesktop.DBus.Error.NoServer")
    c = Errc::unavailable;
  return make_error(c, n + ": " + e.getMessage());
}

// A start refused because systemd could not load the unit: not found, or its file unreadable or
// invalid (LoadFailed, BadUnitSetting).
bool is_load_error(const Error& e) {
  return e.code == Errc::not_found ||
         e.message.starts_with("org.freedesktop.systemd1.LoadFailed") ||
         e.message.starts_with("org.freedesktop.systemd1.BadUnitSetting");
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// True when the unit file has an [Install] section header on a line of its own.
bool has_install_section(std::string_view content) {
  constexpr std::string_view kHeader = "[Install]";
  for (auto pos = content.find(kHeader); pos != std::string_view::npos;
       pos = content.find(kHeader, pos + 1)) {
    auto end = pos + kHeader.size();
    bool starts_line = pos == 0 || content[pos - 1] == '\n';
    bool ends_line = end == content.size() || content[end] == '\n' || content[end] == '\r';
    if (starts_line && ends_line) return true;
  }
  return false;
}

}  // namespace

std::string unescape_bus_label(std::string_view label) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < label.size(); ++i) {
    if (label[i] == '_' && i + 2 < label.size() && hex(label[i + 1]) >= 0 &&
        hex(label[i + 2]) >= 0) {
      out += static_cast<char>(hex(label[i + 1]) * 16 + hex(label[i + 2]));
      i += 2;
    } else {
      out += label[i];
    }
  }
  return out;
}

// The few properties the agent follows, out of a PropertiesChanged signal of systemd.
struct ChangedProperties {
  bool unit_iface = false;  // org.freedesktop.systemd1.Unit (else Service or other)
  std::optional<std::string> load_state, active_state, sub_state;
  std::optional<uint32_t> main_pid;  // from the Service interface
};

// sdbus-c++ 1.2 reads an a{sv} by copying every variant into its own message
// (sd_bus_message_copy), and systemd's PropertiesChanged of a Unit carries ~50 properties of
// which the agent needs three: that was a quarter of fleetd's CPU while starting 500 units. This
// reads the signal through sd-bus directly and skips what it does not need. (The pointer to a
// protected member is formed in a derived class, as the language allows, and applied to the
// message sdbus-c++ hands us.)
struct RawMessage : sdbus::Message {
  static sd_bus_message* of(sdbus::Message& m) {
    return static_cast<sd_bus_message*>(m.*(&RawMessage::msg_));
  }
};

Result<ChangedProperties> read_changed(sdbus::Message& msg) {
  sd_bus_message* m = RawMessage::of(msg);
  auto bad = [](const char* what, int r) {
    return Error{Errc::invalid_argument, std::string(what) + ": " + std::strerror(-r)};
  };
  const char* iface = nullptr;
  if (int r = sd_bus_message_read(m, "s", &iface); r < 0) return bad("interface", r);
  ChangedProperties out;
  out.unit_iface = std::string_view(iface) == kUnitIface;
  const bool service = std::string_view(iface) == kServiceIface;
  if (!out.unit_iface && !service) return out;
  if (int r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}"); r < 0)
    return bad("changed properties", r);
  int r = 0;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
    const char* key = nullptr;
    if (r = sd_bus_message_read(m, "s", &key); r < 0) return bad("property name", r);
    const std::string_view k(key);
    std::optional<std::string>* text = nullptr;
    if (out.unit_iface && k == "LoadState") text = &out.load_state;
    if (out.unit_iface && k == "ActiveState") text = &out.active_state;
    if (out.unit_iface && k == "SubState") text = &out.sub_state;
    if (text) {
      const char* v = nullptr;
      if (r = sd_bus_message_read(m, "v", "s", &v); r < 0) return bad(key, r);
      *text = v;
    } else if (service && k == "MainPID") {
      uint32_t pid = 0;
      if (r = sd_bus_message_read(m, "v", "u", &pid); r < 0) return bad(key, r);
      out.main_pid = pid;
    } else if (r = sd_bus_message_skip(m, "v"); r < 0) {
      return bad(key, r);
    }
    if (r = sd_bus_message_exit_container(m); r < 0) return bad(key, r);
  }
  if (r < 0) return bad("changed properties", r);
  return out;
}

struct SystemdUnitManager::Impl {
  struct CallbackBox {
    StateCallback cb;
  };

  Impl(asio::any_io_executor e, SystemdOptions o)
      : ex(e), opts(std::move(o)), notifier(e), reconnect_timer(e), subscribe_timer(e) {}
  ~Impl() {
    callback_box->cb = nullptr;
    if (pump) pump->stop();
    orphans.clear();  // while every connection they may use is still there
  }

  // --- The bus connection. ------------------------------------------------------------------

  // Connects to the system bus, registers the signal handlers and starts the pump; a lost
  // connection this replaces is retired. The caller subscribes. Short synchronous calls on a
  // local socket (sdbus-c++ 1.2 has no async connect).
  Status open_bus() {
    // Declared so that an exception destroys the proxy and slots before their connection.
    std::unique_ptr<sdbus::IConnection> c;
    std::unique_ptr<sdbus::IProxy> m;
    sdbus::Slot props, owner;
    try {
      c = sdbus::createSystemBusConnection();
      m = sdbus::createProxy(*c, kDest, kPath);
      m->uponSignal("JobRemoved")
          .onInterface(kManager)
          .call([this](uint32_t, sdbus::ObjectPath job, std::string, std::string result) {
            on_job_removed(job, result);
          });
      m->finishRegistration();
      props = c->addMatch(
          "type='signal',sender='org.freedesktop.systemd1',"
          "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',"
          "path_namespace='/org/freedesktop/systemd1/unit'",
          [this](sdbus::Message& msg) { on_properties_changed(msg); });
      owner = c->addMatch(
          "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
          "member='NameOwnerChanged',arg0='org.freedesktop.systemd1'",
          [this](sdbus::Message& msg) { on_name_owner_changed(msg); });
    } catch (const sdbus::Error& e) {
      return fail(Errc::unavailable, "system bus: " + e.getName() + ": " + e.getMessage());
    }
    if (conn) {
      // The old objects may still be named by suspended calls (a proxy reference in call()):
      // kept, dead, until the manager goes. Their replies will never come, so nothing is in
      // flight on the new connection.
      retired.push_back(Retired{std::move(conn), std::move(mgr), std::move(pump),
                                std::move(props_slot), std::move(owner_slot)});
      in_flight = 0;
      open_jobs = 0;
      waiting_jobs.clear();
    }
    conn = std::move(c);
    mgr = std::move(m);
    props_slot = std::move(props);
    owner_slot = std::move(owner);
    broken = false;
    pump = std::make_shared<detail::SdbusPump>(
        ex, *conn, [this](const std::string& why) { on_bus_lost(why); });
    pump->arm();
    if (broken) return fail(Errc::unavailable, "system bus: " + broken_reason);
    return ok();
  }

  // dbus-daemon restarted or dropped us: every pending reply and signal is gone. Operations
  // fail with unavailable until a new connection is up; the manager reconnects by itself, so a
  // D-Bus restart costs fleetd nothing (exiting would leave the units unreported, and moved
  // elsewhere if systemd's restart delay outlasted the machine's lease).
  void on_bus_lost(const std::string& why) {
    broken = true;
    broken_reason = why;
    ++conn_epoch;
    log::error("agent", "system bus connection lost; reconnecting", {{"error", why}});
    notifier.notify();
    schedule_reconnect();
  }

  void schedule_reconnect() {
    reconnect_timer.expires_after(reconnect_backoff.next());
    // A handler already queued when the manager is destroyed still runs, with success: the
    // weak token says whether `this` is still there.
    reconnect_timer.async_wait(
        [this, alive = std::weak_ptr<int>(alive_token)](const boost::system::error_code& ec) {
          if (!ec && alive.lock()) reconnect();
        });
  }

  void reconnect() {
    if (auto st = open_bus(); !st) {
      log::warn("agent", "system bus still unreachable", {{"error", st.error().describe()}});
      broken = true;
      broken_reason = st.error().message;
      schedule_reconnect();
      return;
    }
    reconnect_backoff.reset();
    log::info("agent", "system bus connection restored; subscribing again");
    subscribe_and_report();
  }

  // Subscribes this connection again and reports every tracked unit's state once, for the
  // changes missed while no signal could arrive.
  void subscribe_and_report() {
    subscribe_timer.cancel();  // a retry pending from before: this Subscribe replaces it
    auto on_subscribed = [this, epoch = conn_epoch](const sdbus::Error* e) {
      reply_done();
      // AlreadySubscribed: systemd kept us (it keeps its subscribers across a daemon-reexec).
      if (!e || e->getName() == "org.freedesktop.systemd1.AlreadySubscribed") {
        subscribe_backoff.reset();
        return;
      }
      // Without a subscription no state change or job result would ever arrive on this
      // connection, so a refusal (systemd busy, or just back and not answering yet) is retried.
      // A lost connection is the reconnect's to handle, and it subscribes again itself.
      log::error("agent", "subscribe again failed; retrying",
                 {{"error", from_sdbus(*e).describe()}});
      if (lost(epoch)) return;
      subscribe_timer.expires_after(subscribe_backoff.next());
      subscribe_timer.async_wait([this, epoch, alive = std::weak_ptr<int>(alive_token)](
                                     const boost::system::error_code& ec) {
        if (!ec && alive.lock() && !lost(epoch)) subscribe_and_report();
      });
    };
    if (!send(*mgr, kManager, "Subscribe", on_subscribed)) return;
    if (tracked.empty()) return;
    // Sent after Subscribe on the same connection, so systemd answers it after subscribing us:
    // no change can fall between the two.
    auto on_listed = [this](const sdbus::Error* e, std::vector<ListedUnit> rows) {
      if (!e) {
        for (const auto& row : rows) {
          if (!tracked.count(row.get<0>())) continue;
          UnitStatus st{row.get<0>(), row.get<2>(), row.get<3>(), row.get<4>(), 0};
          cache[st.name] = st;
          auto pid = main_pids.find(st.name);
          if (pid != main_pids.end() && st.active_state != "inactive") st.main_pid = pid->second;
          asio::post(ex, [box = callback_box, st = std::move(st)] {
            if (box->cb) box->cb(st);
          });
        }
      }
      reply_done();
    };
    if (!send(*mgr, kManager, "ListUnitsByNames", on_listed,
              std::vector<std::string>(tracked.begin(), tracked.end())))
      log::error("agent", "list units after subscribing again", {{"error", broken_reason}});
  }

  // --- D-Bus calls. -------------------------------------------------------------------------

  // Sends one asynchronous call; `cb(const sdbus::Error*, results...)` runs on the loop.
  template <class Callback, class... A>
  Status send(sdbus::IProxy& proxy, const char* iface, const std::string& method, Callback&& cb,
              A&&... args) {
    if (broken) return fail(Errc::unavailable, "system bus connection lost: " + broken_reason);
    try {
      proxy.callMethodAsync(method)
          .onInterface(iface)
          .withTimeout(opts.call_timeout)
          .withArguments(std::forward<A>(args)...)
          .uponReplyInvoke(std::forward<Callback>(cb));
    } catch (const sdbus::Error& e) {
      return from_sdbus(e);
    }
    ++in_flight;
    pump->kick();
    return ok();
  }

  // Every reply callback ends with this: frees a window slot and wakes waiters.
  void reply_done() {
    if (in_flight > 0) --in_flight;  // 0 after a reconnect: a late reply of the old connection
    notifier.notify();
  }

  // dbus-daemon refuses more than max_replies_per_connection (128 on the system bus) pending
  // calls with LimitsExceeded, so batches keep at most kMaxInFlight outstanding.
  Task<void> window() {
    co_await notifier.wait([&] { return broken || in_flight < kMaxInFlight; },
                           Clock::now() + opts.call_timeout + 2s);
  }

  // One call, awaited: the reply's values as a tuple.
  template <class... R, class... A>
  Task<Result<std::tuple<R...>>> call(sdbus::IProxy& proxy, const char* iface, std::string method,
                                      A... args) {
    struct State {
      bool done = false;
      std::optional<Error> error;
      std::tuple<R...> values;
    };
    auto st = std::make_shared<State>();
    auto on_reply = [st, this](const sdbus::Error* e, R... r) {
      if (e)
        st->error = from_sdbus(*e);
      else
        st->values = std::tuple<R...>(std::move(r)...);
      st->done = true;
      reply_done();
    };
    co_await window();
    const uint64_t epoch = conn_epoch;
    if (auto sent = send(proxy, iface, method, on_reply, std::move(args)...); !sent)
      co_return sent.error();
    co_await notifier.wait([&] { return st->done || lost(epoch); },
                           Clock::now() + opts.call_timeout + 2s);
    if (!st->done)
      co_return fail(lost(epoch) ? Errc::unavailable : Errc::timeout, method + ": no reply");
    if (st->error) co_return *st->error;
    co_return std::move(st->values);
  }

  // A job this manager asked systemd for; `open` while it counts against kMaxOpenJobs.
  struct JobSlot {
    bool replied = false;
    bool open = false;
    uint64_t epoch = 0;       // systemd_epoch when sent: a job of an earlier systemd is lost
    uint64_t conn_epoch = 0;  // conn_epoch when sent: a job of an earlier connection is lost
    std::string job;
    std::optional<Error> error;
  };
  using JobSlots = std::shared_ptr<std::vector<JobSlot>>;

  void close_job(JobSlot& s) {
    if (!s.open) return;
    s.open = false;
    if (s.conn_epoch != conn_epoch) return;  // counted on a connection that is gone
    --open_jobs;
    notifier.notify();
  }

  // Sends `method(name, "replace")` for every name, at most kMaxOpenJobs queued at a time, then
  // waits for every job's JobRemoved. Returns the per-unit failures.
  Task<std::vector<std::pair<std::string, Error>>> run_jobs(std::string method,
                                                            std::vector<std::string> names,
                                                            bool quiet_not_found = false) {
    auto slots = std::make_shared<std::vector<JobSlot>>(names.size());
    // One deadline for the whole batch: jobs stuck in systemd must not hold each unit left for
    // a job timeout of its own.
    const auto window_deadline = Clock::now() + opts.job_timeout;
    for (size_t i = 0; i < names.size(); ++i) {
      auto on_reply = [slots, i, this](const sdbus::Error* e, sdbus::ObjectPath job) {
        JobSlot& s = (*slots)[i];
        s.replied = true;
        if (e) {
          s.error = from_sdbus(*e);
          close_job(s);
        } else {
          s.job = std::move(job);
          // JobRemoved may have come before this reply. A reply after this call stopped waiting
          // still names a job systemd holds: it counts until its JobRemoved, as below.
          if (job_results.count(s.job))
            close_job(s);
          else
            waiting_jobs.emplace(s.job, std::make_pair(slots, i));
        }
        reply_done();
      };
      co_await notifier.wait(
          [&] { return broken || (in_flight < kMaxInFlight && open_jobs < kMaxOpenJobs); },
          window_deadline);
      JobSlot& s = (*slots)[i];
      if (!broken && open_jobs >= kMaxOpenJobs) {
        // Not sent: unavailable, so that the agent tries again rather than counting it failed.
        s.replied = true;
        s.error = make_error(Errc::unavailable, method + ": too many systemd jobs still queued");
        continue;
      }
      s.open = true;
      s.epoch = systemd_epoch;
      s.conn_epoch = conn_epoch;
      ++open_jobs;
      if (auto sent = send(*mgr, kManager, method, on_reply, names[i], std::string("replace"));
          !sent) {
        s.replied = true;
        s.error = sent.error();
        close_job(s);
      }
    }
    auto all_replied = [&] {
      for (const auto& s : *slots)
        if (!s.replied && s.conn_epoch == conn_epoch) return false;
      return true;
    };
    co_await notifier.wait([&] { return broken || all_replied(); },
                           Clock::now() + opts.call_timeout + 2s);
    auto all_done = [&] {
      for (const auto& s : *slots)
        if (!s.job.empty() && !job_results.count(s.job) && s.epoch == systemd_epoch &&
            s.conn_epoch == conn_epoch)
          return false;
      return true;
    };
    co_await notifier.wait([&] { return broken || all_done(); }, Clock::now() + opts.job_timeout);

    for (auto& s : *slots) {
      if (!s.open || !s.replied) continue;
      // Slower than job_timeout and still queued in systemd, with its match rule: it keeps
      // counting against kMaxOpenJobs until its JobRemoved comes (on_job_removed), systemd leaves
      // the bus or the connection is replaced, which close or forget every waiting job. Released
      // here, later batches queued past the limit while these were still there.
      if (!broken && !s.job.empty() && !job_results.count(s.job) && s.epoch == systemd_epoch &&
          s.conn_epoch == conn_epoch)
        continue;
      for (auto [it, end] = waiting_jobs.equal_range(s.job); it != end;)
        it = it->second.first == slots ? waiting_jobs.erase(it) : std::next(it);
      close_job(s);
    }

    std::vector<std::pair<std::string, Error>> failures;
    for (size_t i = 0; i < names.size(); ++i) {
      JobSlot& s = (*slots)[i];
      if (s.error) {
        failures.emplace_back(names[i], *s.error);
      } else if (s.conn_epoch != conn_epoch) {
        failures.emplace_back(names[i],
                              make_error(Errc::unavailable,
                                         method + " job lost: the system bus connection was lost"));
      } else if (!s.replied) {
        failures.emplace_back(names[i], make_error(Errc::timeout, method + ": no reply"));
      } else if (auto it = job_results.find(s.job); it == job_results.end()) {
        const bool gone = broken || s.epoch != systemd_epoch;
        failures.emplace_back(
            names[i],
            make_error(gone ? Errc::unavailable : Errc::timeout,
                       method + (s.epoch != systemd_epoch ? " job lost: systemd left the system bus"
                                                          : " job did not finish")));
      } else {
        // "done" means the job ran, not that a process keeps running (Type=simple).
        if (it->second != "done" && it->second != "skipped")
          failures.emplace_back(names[i],
                                make_error(Errc::internal, method + " job " + it->second));
        job_results.erase(it);
      }
    }
    for (const auto& f : failures)
      if (!quiet_not_found || f.second.code != Errc::not_found)
        log::warn("agent", "job failed",
                  {{"unit", f.first}, {"op", method}, {"error", f.second.message}});
    co_return failures;
  }

  // Calls method(name) for each name at once and waits for all replies; errors ignored.
  Task<void> for_each_ignoring_errors(std::string method, std::vector<std::string> names) {
    auto pending = std::make_shared<size_t>(0);
    for (const auto& n : names) {
      auto on_reply = [pending, this](const sdbus::Error*) {
        --*pending;
        reply_done();
      };
      co_await window();
      if (send(*mgr, kManager, method, on_reply, n)) ++*pending;
    }
    const uint64_t epoch = conn_epoch;
    co_await notifier.wait([&] { return lost(epoch) || *pending == 0; },
                           Clock::now() + opts.call_timeout + 2s);
  }

  // systemd did not load units load() linked without a Reload: its unit directory cache missed
  // their files. One Reload makes it read them; after it they count as verified whatever they
  // show (a broken file stays broken), so each unit costs at most one Reload.
  Task<Status> reload_for(const std::vector<std::string>& missed) {
    log::warn("agent", "systemd did not find new unit files; reloading",
              {{"unit", missed.front()}, {"units", std::to_string(missed.size())}});
    auto reloaded = co_await call<>(*mgr, kManager, "Reload");
    if (!reloaded) co_return fail(reloaded.error().code, "reload: " + reloaded.error().message);
    ++reloads;
    for (const auto& n : missed) unverified.erase(n);
    co_return ok();
  }

  // The units systemd holds whose load, active or sub state is one of `states`; nullopt when
  // it cannot be asked. ListUnitsFiltered lists what systemd holds and loads nothing, unlike
  // ListUnitsByNames, ResetFailedUnit and the like: each of those loads a unit systemd does not
  // hold (one not there yet, or a stopped one it already freed) only to free it again, ~0.4 ms
  // of systemd's CPU a unit.
  Task<std::optional<std::set<std::string>>> held_in(std::vector<std::string> states) {
    auto r = co_await call<std::vector<ListedUnit>>(*mgr, kManager, "ListUnitsFiltered", states);
    if (!r) co_return std::nullopt;
    std::set<std::string> out;
    for (const auto& row : std::get<0>(r.value())) out.insert(row.get<0>());
    co_return out;
  }
  // Whether systemd holds none of `names` loaded; false when it cannot be asked.
  Task<bool> none_loaded(std::vector<std::string> names) {
    std::vector<std::string> states{"loaded"};  // (named: GCC 12, braced lists in co_await)
    auto loaded = co_await held_in(std::move(states));
    if (!loaded) co_return false;
    for (const auto& n : names)
      if (loaded->count(n)) co_return false;
    co_return true;
  }

  // --- Signals. -----------------------------------------------------------------------------

  void on_job_removed(const std::string& job, const std::string& result) {
    job_results[job] = result;
    for (auto [it, end] = waiting_jobs.equal_range(job); it != end;) {
      close_job((*it->second.first)[it->second.second]);
      it = waiting_jobs.erase(it);
    }
    job_order.push_back(job);
    while (job_order.size() > kMaxJobResults) {
      job_results.erase(job_order.front());
      job_order.pop_front();
    }
    notifier.notify();
  }

  // systemd leaves the system bus when it cannot keep up with it (see kMaxOpenJobs) and joins
  // again at its next unit state change. Replies and JobRemoved signals of the jobs queued
  // before are lost, and so is our subscription: without a new Subscribe no state change would
  // ever be reported again. So: stop waiting for the lost jobs, subscribe again, and report every
  // tracked unit's state once, for the changes missed in between.
  void on_name_owner_changed(sdbus::Message& msg) {
    std::string name, old_owner, new_owner;
    try {
      msg >> name >> old_owner >> new_owner;
    } catch (const sdbus::Error&) {
      return;
    }
    if (name != kDest) return;
    if (!old_owner.empty()) {
      ++systemd_epoch;
      log::warn("agent", "systemd left the system bus; its queued jobs' results are lost",
                {{"jobs", std::to_string(waiting_jobs.size())}});
      for (auto& [job, slot] : waiting_jobs) close_job((*slot.first)[slot.second]);
      waiting_jobs.clear();
      notifier.notify();
    }
    if (new_owner.empty()) return;
    log::info("agent", "systemd joined the system bus; subscribing again");
    subscribe_and_report();
  }

  void on_properties_changed(sdbus::Message& msg) {
    std::string path = msg.getPath();
    if (path.rfind(kUnitPathPrefix, 0) != 0) return;
    std::string name = unescape_bus_label(std::string_view(path).substr(kUnitPathPrefix.size()));
    if (!tracked.count(name)) return;
    auto read = read_changed(msg);
    if (!read) {
      log::warn("agent", "bad PropertiesChanged",
                {{"unit", name}, {"error", read.error().message}});
      return;
    }
    const ChangedProperties& changed = read.value();
    if (changed.main_pid) main_pids[name] = *changed.main_pid;
    if (!changed.unit_iface) return;
    {
      UnitStatus& s = cache[name];
      s.name = name;
      if (changed.load_state) s.load_state = *changed.load_state;
      if (changed.active_state) s.active_state = *changed.active_state;
      if (changed.sub_state) s.sub_state = *changed.sub_state;
    }
    UnitStatus s = cache[name];
    // LoadState is not in these signals; a unit whose state changes is loaded unless we know
    // better (from list()).
    if (s.load_state.empty()) s.load_state = "loaded";
    auto pid = main_pids.find(name);
    s.main_pid = pid != main_pids.end() && s.active_state != "inactive" ? pid->second : 0;
    // Deliver from the loop, never from inside sd-bus dispatch.
    asio::post(ex, [box = callback_box, s = std::move(s)] {
      if (box->cb) box->cb(s);
    });
  }

  // --- Operations. --------------------------------------------------------------------------

  Task<Status> load(std::vector<UnitFileSpec> units);
  Task<Status> unload(std::vector<std::string> names);
  Task<Result<std::vector<UnitStatus>>> list(std::vector<std::string> names);
  Task<void> fill_main_pids(std::vector<UnitStatus>& out, const std::vector<std::string>& paths);
  std::vector<std::string> files_on_disk() const;

  asio::any_io_executor ex;
  SystemdOptions opts;
  detail::Notifier notifier;
  std::shared_ptr<CallbackBox> callback_box = std::make_shared<CallbackBox>();
  std::shared_ptr<int> alive_token = std::make_shared<int>(0);  // only ever held here
  std::map<std::string, std::string> job_results;               // job path -> JobRemoved result
  std::deque<std::string> job_order;
  std::set<std::string> tracked;  // units this agent manages: loaded by it or found on disk
  // Units load() linked without a Reload, which systemd has not yet shown loaded: any other load
  // state for one of them means systemd missed the new file, and list() or start() then reloads
  // once (reload_for()).
  std::set<std::string> unverified;
  uint64_t reloads = 0;  // Reloads reload_for() made: a miss seen before one needs no other
  std::map<std::string, UnitStatus> cache;    // last state seen in PropertiesChanged
  std::map<std::string, uint32_t> main_pids;  // from Service PropertiesChanged or Get
  size_t in_flight = 0;                       // calls sent and not yet answered
  size_t open_jobs = 0;                       // jobs asked for and not known to be finished
  uint64_t systemd_epoch = 0;                 // times systemd left the bus since connect
  // Job path -> the run_jobs slot waiting for its JobRemoved.
  std::multimap<std::string, std::pair<JobSlots, size_t>> waiting_jobs;
  bool broken = false;
  std::string broken_reason;
  uint64_t conn_epoch = 0;  // connections lost since connect
  // Whether the connection a wait began on (its conn_epoch) is gone.
  bool lost(uint64_t since) const { return broken || conn_epoch != since; }
  asio::steady_timer reconnect_timer;
  Backoff reconnect_backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(5000)};
  asio::steady_timer subscribe_timer;  // a refused Subscribe is sent again (subscribe_and_report)
  Backoff subscribe_backoff{std::chrono::milliseconds(250), std::chrono::milliseconds(5000)};
  // A lost connection and what used it, kept until the manager goes (see reconnect()). Members
  // are destroyed in reverse order: proxies, pump and slots before their connection.
  struct Retired {
    std::unique_ptr<sdbus::IConnection> conn;
    std::unique_ptr<sdbus::IProxy> mgr;
    std::shared_ptr<detail::SdbusPump> pump;
    sdbus::Slot props_slot;
    sdbus::Slot owner_slot;
  };
  std::vector<Retired> retired;
  // Proxies of a listing that lost its connection, on a connection current or retired.
  std::vector<std::unique_ptr<sdbus::IProxy>> orphans;
  // Destroyed in reverse order: match slot, pump and proxy before the connection.
  std::unique_ptr<sdbus::IConnection> conn;
  std::unique_ptr<sdbus::IProxy> mgr;
  std::shared_ptr<detail::SdbusPump> pump;
  sdbus::Slot props_slot;
  sdbus::Slot owner_slot;
};

std::vector<std::string> SystemdUnitManager::Impl::files_on_disk() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(opts.units_dir, ec)) {
    std::string n = e.path().filename().string();
    if (e.is_regular_file(ec) && check_unit_name(n)) out.push_back(n);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Task<Status> SystemdUnitManager::Impl::load(std::vector<UnitFileSpec> units) {
  for (const auto& f : units)
    if (auto st = check_unit_name(f.name); !st) co_return st;
  if (units.empty()) co_return ok();
  std::vector<std::string> names;
  for (const auto& f : units) names.push_back(f.name);
  bool all_new = co_await none_loaded(names);
  std::error_code ec;
  fs::create_directories(opts.units_dir, ec);
  if (ec) co_return fail(Errc::internal, "create " + opts.units_dir + ": " + ec.message());
  // Small local files under /run: the one kind of synchronous I/O allowed on the loop.
  std::vector<std::string> paths, installable;
  for (const auto& f : units) {
    std::string path = opts.units_dir + "/" + f.name;
    if (has_install_section(f.content)) installable.push_back(path);
    std::string tmp = opts.units_dir + "/." + f.name + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << f.content;
      if (!out.flush()) co_return fail(Errc::internal, "write " + tmp);
    }
    fs::rename(tmp, path, ec);
    if (ec) co_return fail(Errc::internal, "rename " + tmp + ": " + ec.message());
    paths.push_back(path);
  }
  auto linked =
      co_await call<std::vector<FileChange>>(*mgr, kManager, "LinkUnitFiles", paths, true, true);
  if (!linked) co_return fail(linked.error().code, "link: " + linked.error().message);
  // Units with an [Install] section are also enabled (runtime), so their
  // WantedBy=/RequiredBy= pull them in with the unit that wants them (fleet's TestInstallUnit).
  if (!installable.empty()) {
    auto enabled = co_await call<bool, std::vector<FileChange>>(*mgr, kManager, "EnableUnitFiles",
                                                                installable, true, true);
    if (!enabled) co_return fail(enabled.error().code, "enable: " + enabled.error().message);
  }
  // Units systemd has not loaded are loaded from disk on first reference once the unit
  // directories changed (systemd >= 246): if every unit of the batch is new, the Reload (which
  // stalls systemd for 0.2-0.5 s with a few hundred units, once per pass) is skipped, and so is
  // asking systemd whether they load: a unit nothing holds is freed again at once, so asking
  // loaded each unit once more than its start does (~0.3 ms of systemd's CPU a unit). Should
  // systemd not find one (its unit directory cache missed the change), the list() or start()
  // that meets it reloads once and asks again. Anything else, e.g. new content for a loaded
  // unit or new WantedBy= links that already-loaded targets must learn about, reloads now.
  if (all_new && installable.empty()) {
    unverified.insert(names.begin(), names.end());
  } else {
    for (const auto& n : names) unverified.erase(n);
    auto reloaded = co_await call<>(*mgr, kManager, "Reload");
    if (!reloaded) co_return fail(reloaded.error().code, "reload: " + reloaded.error().message);
  }
  const log::Level item = log::item_level(units.size());
  for (const auto& f : units) {
    tracked.insert(f.name);
    if (log::enabled(item)) log::write(item, "agent", "loaded unit", {{"unit", f.name}});
  }
  if (item != log::Level::info)
    log::info("agent", "loaded units", {{"units", std::to_string(units.size())}});
  co_return ok();
}

Task<Status> SystemdUnitManager::Impl::unload(std::vector<std::string> names) {
  for (const auto& n : names)
    if (auto st = check_unit_name(n); !st) co_return st;
  if (names.empty()) co_return ok();
  std::vector<std::pair<std::string, Error>> failures;
  for (auto& f : co_await run_jobs("StopUnit", names, true)) {
    // systemd unreachable: removing the files now would leave the units running with nothing
    // tracking them (a restarted fleetd adopts units from their files). Nothing is removed;
    // the caller unloads them again later.
    if (f.second.code == Errc::unavailable)
      co_return fail(Errc::unavailable,
                     "unload: nothing removed, " + f.first + ": " + f.second.message);
    if (f.second.code != Errc::not_found) failures.push_back(std::move(f));
  }
  auto disabled =
      co_await call<std::vector<FileChange>>(*mgr, kManager, "DisableUnitFiles", names, true);
  if (!disabled && disabled.error().code != Errc::not_found)
    failures.emplace_back("disable", disabled.error());
  // Links removed from a target's .wants/ (an [Install] unit) change a loaded unit's
  // dependencies: only a Reload makes systemd forget them.
  bool install_links = false;
  if (disabled)
    for (const auto& change : std::get<0>(disabled.value()))
      install_links = install_links || is_install_link(change.template get<1>());
  // Only failed units have a failed state to reset; asked about the others, systemd would load
  // each stopped unit it had already freed (held_in()). Not knowing which failed, all are reset.
  std::vector<std::string> failed;
  std::vector<std::string> failed_state{"failed"};  // (named: GCC 12)
  if (auto held = co_await held_in(std::move(failed_state))) {
    for (const auto& n : names)
      if (held->count(n)) failed.push_back(n);
  } else {
    failed = names;
  }
  co_await for_each_ignoring_errors("ResetFailedUnit", std::move(failed));
  for (const auto& n : names) {
    std::error_code ec;
    fs::remove(opts.units_dir + "/" + n, ec);
    if (ec) failures.emplace_back(n, make_error(Errc::internal, "remove: " + ec.message()));
  }
  // Like load(): stopped units whose files are gone are forgotten without a Reload (systemd
  // >= 246 notices the changed directories), and the Reload would stall systemd for 0.2-0.5 s per
  // batch. A unit still loaded (its stop failed, another unit holds it) still gets one.
  const bool reload = install_links || !(co_await none_loaded(names));
  if (reload) {
    auto reloaded = co_await call<>(*mgr, kManager, "Reload");
    if (!reloaded) failures.emplace_back("reload", reloaded.error());
  }
  const log::Level item = log::item_level(names.size());
  for (const auto& n : names) {
    tracked.erase(n);
    unverified.erase(n);
    cache.erase(n);
    main_pids.erase(n);
    if (log::enabled(item)) log::write(item, "agent", "unloaded unit", {{"unit", n}});
  }
  if (item != log::Level::info)
    log::info("agent", "unloaded units", {{"units", std::to_string(names.size())}});
  co_return batch_status("unload", failures);
}

Task<Result<std::vector<UnitStatus>>> SystemdUnitManager::Impl::list(
    std::vector<std::string> names) {
  if (names.empty()) names.assign(tracked.begin(), tracked.end());
  if (names.empty()) co_return std::vector<UnitStatus>{};
  auto r = co_await call<std::vector<ListedUnit>>(*mgr, kManager, "ListUnitsByNames", names);
  if (!r) co_return r.error();
  std::vector<std::string> missed;
  for (const auto& row : std::get<0>(r.value()))
    if (unverified.count(row.get<0>()) && row.get<2>() != "loaded") missed.push_back(row.get<0>());
  if (!missed.empty()) {
    if (auto st = co_await reload_for(missed); !st) co_return st.error();
    r = co_await call<std::vector<ListedUnit>>(*mgr, kManager, "ListUnitsByNames", names);
    if (!r) co_return r.error();
  }
  for (const auto& row : std::get<0>(r.value()))
    if (row.get<2>() == "loaded") unverified.erase(row.get<0>());
  std::map<std::string, const ListedUnit*> by_name;
  for (const auto& row : std::get<0>(r.value())) by_name[row.get<0>()] = &row;
  std::vector<UnitStatus> out;
  std::vector<std::string> paths;  // unit object path per entry ("" = none)
  for (const auto& n : names) {
    auto it = by_name.find(n);
    if (it == by_name.end()) {
      out.push_back(not_found_status(n));
      paths.emplace_back();
      continue;
    }
    const ListedUnit& row = *it->second;
    out.push_back(UnitStatus{n, row.get<2>(), row.get<3>(), row.get<4>(), 0});
    paths.push_back(row.get<6>());
    if (tracked.count(n)) cache[n] = out.back();
  }
  co_await fill_main_pids(out, paths);
  co_return out;
}

// MainPID from the signal cache; units never seen in a signal (adopted after a restart) get one
// Properties.Get each, all sent at once.
Task<void> SystemdUnitManager::Impl::fill_main_pids(std::vector<UnitStatus>& out,
                                                    const std::vector<std::string>& paths) {
  struct Pending {
    size_t left = 0;
    std::vector<std::unique_ptr<sdbus::IProxy>> proxies;  // alive until their replies
  };
  auto pending = std::make_shared<Pending>();
  for (size_t i = 0; i < out.size(); ++i) {
    UnitStatus& s = out[i];
    bool running = s.active_state == "active" || s.active_state == "activating" ||
                   s.active_state == "deactivating" || s.active_state == "reloading";
    if (!running || !ends_with(s.name, ".service") || paths[i].empty()) continue;
    if (auto it = main_pids.find(s.name); it != main_pids.end()) {
      s.main_pid = it->second;
      continue;
    }
    try {
      pending->proxies.push_back(sdbus::createProxy(*conn, kDest, paths[i]));
    } catch (const sdbus::Error&) {
      continue;
    }
    auto on_reply = [pending, &out, i, this](const sdbus::Error* e, sdbus::Variant v) {
      --pending->left;
      reply_done();
      if (e) return;
      try {
        out[i].main_pid = v.get<uint32_t>();
      } catch (const sdbus::Error&) {
      }
    };
    co_await window();
    if (send(*pending->proxies.back(), kProps, "Get", on_reply, std::string(kServiceIface),
             std::string("MainPID")))
      ++pending->left;
  }
  if (pending->left == 0) co_return;
  const uint64_t epoch = conn_epoch;
  bool done = co_await notifier.wait([&] { return lost(epoch) || pending->left == 0; },
                                     Clock::now() + opts.call_timeout + 2s);
  if (!done) {
    // Replies still outstanding would write into `out`: drop them with their proxies (on a
    // connection that is gone, they must outlive it: retired).
    if (epoch == conn_epoch)
      in_flight -= std::min(in_flight, pending->left);
    else
      for (auto& proxy : pending->proxies) orphans.push_back(std::move(proxy));
    pending->proxies.clear();
  }
}

// --- SystemdUnitManager. ------------------------------------------------------------------

SystemdUnitManager::SystemdUnitManager(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SystemdUnitManager::~SystemdUnitManager() = default;

Task<Result<std::unique_ptr<SystemdUnitManager>>> SystemdUnitManager::connect(SystemdOptions opts) {
  auto ex = co_await asio::this_coro::executor;
  auto impl = std::make_unique<Impl>(ex, std::move(opts));
  Impl* p = impl.get();
  if (auto opened = p->open_bus(); !opened) co_return opened.error();
  // systemd sends JobRemoved and PropertiesChanged only to subscribed connections.
  auto sub = co_await p->call<>(*p->mgr, kManager, "Subscribe");
  if (!sub) co_return fail(Errc::unavailable, "subscribe: " + sub.error().describe());
  for (auto& n : p->files_on_disk()) p->tracked.insert(n);
  co_return std::unique_ptr<SystemdUnitManager>(new SystemdUnitManager(std::move(impl)));
}

Task<Status> SystemdUnitManager::load(std::vector<UnitFileSpec> units) {
  return impl_->load(std::move(units));
}

Task<Status> SystemdUnitManager::unload(std::vector<std::string> names) {
  return impl_->unload(std::move(names));
}

Task<Status> SystemdUnitManager::start(std::vector<std::string> names) {
  Impl& p = *impl_;
  // Which of them systemd may not have loaded yet, as of sending (a list() meanwhile may reload
  // and verify them, and then a miss seen here needs only another try).
  std::set<std::string> unverified;
  for (const auto& n : names)
    if (p.unverified.count(n)) unverified.insert(n);
  const uint64_t reloads = p.reloads;
  std::vector<std::string> all = names;  // (named: GCC 12, copies inside co_await)
  auto failures = co_await p.run_jobs("StartUnit", std::move(all), true);
  std::set<std::string> missed, unanswered;
  for (const auto& [name, error] : failures) {
    if (error.code == Errc::unavailable || error.code == Errc::timeout) unanswered.insert(name);
    if (unverified.count(name) && is_load_error(error)) missed.insert(name);
  }
  // A start systemd answered shows the unit loaded (or truly broken: a miss below).
  for (const auto& n : names)
    if (!missed.count(n) && !unanswered.count(n)) p.unverified.erase(n);
  if (!missed.empty()) {
    std::erase_if(failures, [&](const auto& f) { return missed.count(f.first) > 0; });
    std::vector<std::string> retry(missed.begin(), missed.end());
    Status reloaded = ok();
    if (p.reloads == reloads) reloaded = co_await p.reload_for(retry);
    if (!reloaded) {
      for (const auto& n : retry) failures.emplace_back(n, reloaded.error());
    } else {
      for (const auto& n : retry) p.unverified.erase(n);
      auto again = co_await p.run_jobs("StartUnit", std::move(retry), true);
      failures.insert(failures.end(), std::make_move_iterator(again.begin()),
                      std::make_move_iterator(again.end()));
    }
  }
  for (const auto& f : failures)
    if (f.second.code == Errc::not_found)
      log::warn("agent", "job failed",
                {{"unit", f.first}, {"op", "StartUnit"}, {"error", f.second.message}});
  co_return batch_status("start", failures);
}

Task<Status> SystemdUnitManager::stop(std::vector<std::string> names) {
  auto failures = co_await impl_->run_jobs("StopUnit", std::move(names));
  co_return batch_status("stop", failures);
}

Task<Result<std::vector<UnitStatus>>> SystemdUnitManager::list(std::vector<std::string> names) {
  return impl_->list(std::move(names));
}

void SystemdUnitManager::on_state_change(StateCallback cb) {
  impl_->callback_box->cb = std::move(cb);
}

std::vector<std::string> SystemdUnitManager::files_on_disk() const {
  return impl_->files_on_disk();
}

Task<Status> SystemdUnitManager::reboot() {
  auto r = co_await impl_->call<sdbus::ObjectPath>(*impl_->mgr, kManager, "StartUnit",
                                                   std::string("reboot.target"),
                                                   std::string("replace-irreversibly"));
  if (!r) co_return r.error();
  co_return ok();
}

Task<Result<bool>> SystemdUnitManager::system_stopping() {
  // Properties.Get answers a variant, which Impl::call cannot carry in a Result: decoded here.
  struct State {
    bool done = false;
    std::optional<Error> error;
    std::string value;
  };
  auto st = std::make_shared<State>();
  Impl* impl = impl_.get();
  auto on_reply = [st, impl](const sdbus::Error* e, sdbus::Variant v) {
    if (e) {
      st->error = from_sdbus(*e);
    } else {
      try {
        st->value = v.get<std::string>();
      } catch (const sdbus::Error& bad) {
        st->error = make_error(Errc::internal, std::string("SystemState: ") + bad.what());
      }
    }
    st->done = true;
    impl->reply_done();
  };
  co_await impl->window();
  const uint64_t epoch = impl->conn_epoch;
  if (auto sent = impl->send(*impl->mgr, "org.freedesktop.DBus.Properties", "Get", on_reply,
                             std::string(kManager), std::string("SystemState"));
      !sent)
    co_return sent.error();
  co_await impl->notifier.wait([&] { return st->done || impl->lost(epoch); },
                               Clock::now() + impl->opts.call_timeout + 2s);
  if (!st->done)
    co_return fail(impl->lost(epoch) ? Errc::unavailable : Errc::timeout, "SystemState: no reply");
  if (st->error) co_return *st->error;
  co_return st->value == "stopping";
}

bool SystemdUnitManager::connected() const { return !impl_->broken; }

}  // namespace fleet::agent
