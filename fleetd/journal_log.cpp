#include "fleetd/journal_log.h"

#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace fleet::fleetd {

bool stderr_is_journal() {
  const char* env = std::getenv("JOURNAL_STREAM");
  if (!env) return false;
  unsigned long long dev = 0, ino = 0;
  if (std::sscanf(env, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(2, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

namespace {
std::string field_name(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out += c;
    } else {
      out += '_';
    }
  }
  if (out.empty() || out[0] == '_' || (out[0] >= '0' && out[0] <= '9')) out = "FLEET_" + out;
  return out;
}

int priority(log::Level l) {
  switch (l) {
    case log::Level::debug:
      return 7;
    case log::Level::info:
      return 6;
    case log::Level::warn:
      return 4;
    case log::Level::error:
      return 3;
  }
  return 6;
}
}  // namespace

std::vector<std::string> journal_fields(const log::Event& e) {
  std::string line = log::format_line(e.level, e.component, e.message, e.fields);
  // "LEVEL component: ..." without the level (the priority carries it) and the newline.
  const auto space = line.find(' ');
  std::string message = line.substr(space + 1, line.size() - space - 2);
  std::vector<std::string> out;
  out.push_back("MESSAGE=" + message);
  out.push_back("PRIORITY=" + std::to_string(priority(e.level)));
  out.push_back("SYSLOG_IDENTIFIER=fleetd");
  out.push_back("FLEET_COMPONENT=" + std::string(e.component));
  for (const auto& [k, v] : e.fields) out.push_back(field_name(k) + "=" + std::string(v));
  return out;
}

void journal_sink(const log::Event& e) {
  const auto fields = journal_fields(e);
  std::vector<iovec> iov;
  iov.reserve(fields.size());
  for (const auto& f : fields) iov.push_back(iovec{const_cast<char*>(f.data()), f.size()});
  if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0) {
    const std::string line = log::format_line(e.level, e.component, e.message, e.fields);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace fleet::fleetd
