#include "agent/boot_id.h"

#include <fstream>
#include <sstream>

namespace fleet::agent {

std::string current_boot_id() {
  std::string boot;
  std::ifstream("/proc/sys/kernel/random/boot_id") >> boot;
  // Field 22 of /proc/1/stat, counted after the command name (which may hold spaces).
  std::string stat;
  std::getline(std::ifstream("/proc/1/stat"), stat);
  std::string start;
  if (auto paren = stat.rfind(')'); paren != std::string::npos) {
    std::istringstream rest(stat.substr(paren + 2));
    for (int field = 3; field <= 22 && rest >> start; ++field) {
    }
  }
  return start.empty() ? boot : boot + "-" + start;
}

}  // namespace fleet::agent
