#include "tests/harness/host/machine_check.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

namespace fleet::testing {
namespace {

namespace fs = std::filesystem;

std::string fingerprint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  struct stat st {};
  ::stat(path.c_str(), &st);
  return std::to_string(std::hash<std::string>{}(ss.str())) + ":" + std::to_string(st.st_size) +
         ":" + std::to_string(st.st_ino);
}

// Names systemd-tmpfiles (Debian's tmp.conf, x11.conf) or PrivateTmp= would create in /tmp.
bool looks_like_systemd(const std::string& n) {
  return n == ".X11-unix" || n == ".ICE-unix" || n == ".XIM-unix" || n == ".font-unix" ||
         n == ".Test-unix" || n.rfind("systemd-private-", 0) == 0;
}

}  // namespace

std::map<std::string, ino_t> list_tmp() {
  std::map<std::string, ino_t> m;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/tmp", ec)) {
    struct stat st {};
    if (::lstat(e.path().c_str(), &st) == 0) m[e.path().filename().string()] = st.st_ino;
  }
  return m;
}

MachineSnapshot MachineSnapshot::take() {
  // Sentinels of test processes that died without running the destructor.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/tmp", ec)) {
    std::string n = e.path().filename().string();
    if (n.rfind("fleet-host-sentinel-", 0) != 0) continue;
    pid_t owner = static_cast<pid_t>(std::atoi(n.c_str() + std::strlen("fleet-host-sentinel-")));
    if (owner > 0 && owner != ::getpid() && ::kill(owner, 0) != 0) fs::remove_all(e.path(), ec);
  }
  MachineSnapshot s;
  std::string base = "/tmp/fleet-host-sentinel-" + std::to_string(::getpid());
  fs::create_directories(base + ".d/sub", ec);
  std::ofstream(base + ".d/sub/file") << "sentinel\n";
  std::ofstream(base + ".f") << "sentinel\n";
  s.sentinels_ = {base + ".d", base + ".f"};
  s.tmp_ = list_tmp();
  for (const char* f : {"/etc/machine-id", "/etc/passwd"}) s.files_[f] = fingerprint(f);
  s.files_[base + ".d/sub/file"] = fingerprint(base + ".d/sub/file");
  return s;
}

MachineSnapshot::MachineSnapshot(MachineSnapshot&& o) noexcept
    : tmp_(std::move(o.tmp_)), files_(std::move(o.files_)), sentinels_(std::move(o.sentinels_)) {
  o.sentinels_.clear();
}

MachineSnapshot::~MachineSnapshot() {
  std::error_code ec;
  for (const auto& s : sentinels_) fs::remove_all(s, ec);
}

std::vector<std::string> MachineSnapshot::problems() const {
  std::vector<std::string> out;
  auto now = list_tmp();
  size_t kept = 0, existing = 0;
  for (const auto& [name, ino] : tmp_) {
    auto it = now.find(name);
    bool same = it != now.end() && it->second == ino;
    bool sentinel = false;
    for (const auto& s : sentinels_) sentinel |= ("/tmp/" + name) == s;
    if (sentinel && !same) out.push_back("sentinel /tmp/" + name + " removed or replaced");
    if (!sentinel) {
      ++existing;
      kept += same ? 1 : 0;
    }
  }
  // Others may delete their own files meanwhile; a wipe removes (nearly) everything.
  if (existing >= 2 && kept * 2 < existing)
    out.push_back("only " + std::to_string(kept) + " of " + std::to_string(existing) +
                  " /tmp entries survived");
  for (const auto& [name, ino] : now)
    if (!tmp_.count(name) && looks_like_systemd(name))
      out.push_back("systemd-made entry appeared: /tmp/" + name);
  for (const auto& [path, fp] : files_)
    if (fingerprint(path) != fp) out.push_back(path + " changed");
  return out;
}

}  // namespace fleet::testing
