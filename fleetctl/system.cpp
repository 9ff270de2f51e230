#include "fleetctl/system.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

namespace fleet::fleetctl {

namespace {
// Go prints errno texts in lower case.
std::string errno_text(int e) {
  std::string m = std::strerror(e);
  if (!m.empty()) m[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(m[0])));
  return m;
}
}  // namespace

std::optional<std::string> RealSystem::getenv(const std::string& name) const {
  const char* v = std::getenv(name.c_str());
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<std::string> RealSystem::read_file(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int e = errno;
    return fail(e == ENOENT ? Errc::not_found : Errc::invalid_argument,
                "open " + path + ": " + errno_text(e));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return fail(Errc::invalid_argument, "read " + path + ": is a directory");
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool RealSystem::file_exists(const std::string& path) const {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

void RealSystem::sleep(std::chrono::milliseconds d) { std::this_thread::sleep_for(d); }

std::chrono::steady_clock::time_point RealSystem::now() const {
  return std::chrono::steady_clock::now();
}

Error RealSystem::exec(const std::vector<std::string>& argv) {
  std::vector<char*> cargv;
  for (const auto& a : argv) cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  ::execvp(cargv[0], cargv.data());
  return Error{Errc::unavailable, "exec " + argv[0] + ": " + errno_text(errno)};
}

bool RealSystem::stdin_is_terminal() const { return ::isatty(STDIN_FILENO) == 1; }

bool RealSystem::stdout_is_terminal() const { return ::isatty(STDOUT_FILENO) == 1; }

}  // namespace fleet::fleetctl
