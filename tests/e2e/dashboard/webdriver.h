#pragma once
// A headless Chromium driven through chromedriver's W3C WebDriver HTTP protocol, for the
// dashboard's browser test. Debian's `chromium` and `chromium-driver` (scripts/install-deps);
// nothing is downloaded, and the browser only talks to loopback. chromedriver and the browser it
// starts run in a process group of their own, killed (by that group's id) in the destructor.
// Blocking, plain POSIX: call from the test's thread.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/testing/temp_dir.h"
#include "tests/harness/etcd/etcd_cluster.h"
#include "tests/harness/wait.h"

namespace fleet::testing::webdriver {

using nlohmann::json;
using namespace std::chrono_literals;

inline constexpr const char* kChromium = "/usr/bin/chromium";
inline constexpr const char* kChromedriver = "/usr/bin/chromedriver";
// W3C's key of an element reference in JSON.
inline constexpr const char* kElement = "element-6066-11e4-a52e-4f735466cecf";

inline bool available() {
  return ::access(kChromium, X_OK) == 0 && ::access(kChromedriver, X_OK) == 0;
}

class Browser {
 public:
  // Starts chromedriver and a headless Chromium session with a window of width x height.
  Browser(int width = 1280, int height = 900) {
    const int port = free_ports(1).at(0);
    endpoint_ = "http://127.0.0.1:" + std::to_string(port);
    const std::string port_arg = "--port=" + std::to_string(port);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("webdriver: fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      // Quiet: chromedriver logs every refused or slow request at SEVERE on its stderr.
      int devnull = ::open("/dev/null", O_RDWR);
      if (devnull >= 0) {
        ::dup2(devnull, STDIN_FILENO);
        ::dup2(devnull, STDOUT_FILENO);
        ::dup2(devnull, STDERR_FILENO);
      }
      ::close_range(3, ~0U, 0);
      ::execl(kChromedriver, kChromedriver, port_arg.c_str(), "--allowed-ips=127.0.0.1",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
    if (!wait_until(
            [&] {
              return http_request(endpoint_, "GET", "/status", {}, 2s, {}, true).status == 200;
            },
            10s, 50ms))
      throw std::runtime_error("webdriver: chromedriver did not answer on " + endpoint_);
    json args = json::array(
        {"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--user-data-dir=" + profile_.path.string(),
         "--window-size=" + std::to_string(width) + "," + std::to_string(height)});
    json caps = {{"capabilities",
                  {{"alwaysMatch",
                    {{"browserName", "chrome"},
                     {"goog:chromeOptions", {{"binary", kChromium}, {"args", args}}},
                     {"goog:loggingPrefs", {{"browser", "ALL"}}}}}}}};
    auto r = call("POST", "/session", caps, 60s);
    session_ = r.at("sessionId").get<std::string>();
  }

  ~Browser() {
    if (!session_.empty())
      http_request(endpoint_, "DELETE", "/session/" + session_, {}, 10s, {}, true);
    if (pid_ > 0) {
      ::kill(-pid_, SIGKILL);
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
    }
  }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  void go(const std::string& url) { session("POST", "/url", {{"url", url}}); }

  // Runs `script` (a function body; `arguments` holds args) in the page; its return value.
  json run(const std::string& script, json args = json::array()) {
    return session("POST", "/execute/sync", {{"script", script}, {"args", std::move(args)}});
  }

  // Clicks the first element matching the CSS selector, as a user would (it must be visible).
  // An element the page replaced between finding and clicking is found again.
  void click(const std::string& css) {
    for (int attempt = 1;; ++attempt) {
      auto el = session("POST", "/element", {{"using", "css selector"}, {"value", css}});
      if (!el.contains(kElement)) throw std::runtime_error("webdriver: no element " + el.dump());
      try {
        session("POST", "/element/" + el[kElement].get<std::string>() + "/click", json::object());
        return;
      } catch (const std::runtime_error& e) {
        if (attempt == 3 || std::string(e.what()).find("stale element") == std::string::npos) throw;
      }
    }
  }

  // The browser console's entries at level SEVERE since the last call (chromedriver's log
  // endpoint), as "message" strings.
  std::vector<std::string> severe_console() {
    std::vector<std::string> out;
    for (const auto& e : session("POST", "/se/log", {{"type", "browser"}}))
      if (e.value("level", "") == "SEVERE") out.push_back(e.value("message", ""));
    return out;
  }

  // A PNG of the window, base64-encoded.
  std::string screenshot_base64() { return session("GET", "/screenshot").get<std::string>(); }

 private:
  json session(const std::string& method, const std::string& path, const json& body = nullptr) {
    return call(method, "/session/" + session_ + path, body, 30s);
  }

  json call(const std::string& method, const std::string& path, const json& body,
            std::chrono::milliseconds timeout) {
    auto r = http_request(endpoint_, method, path, body.is_null() ? std::string() : body.dump(),
                          timeout, {}, true);
    auto j = json::parse(r.body, nullptr, false);
    if (r.status != 200 || j.is_discarded() || !j.contains("value"))
      throw std::runtime_error("webdriver: " + method + " " + path + " -> " +
                               std::to_string(r.status) + " " + r.body.substr(0, 500));
    return j["value"];
  }

  TempDir profile_;
  std::string endpoint_;
  pid_t pid_ = 0;
  std::string session_;
};

}  // namespace fleet::testing::webdriver
