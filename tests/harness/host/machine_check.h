#pragma once
// Before/after fingerprint of the machine state a careless host boot would damage: the top level
// of /tmp (a boot without private mounts once wiped it), /etc/machine-id and /etc/passwd.
//
// /tmp is shared with other processes that legitimately add and remove entries while a test
// runs, so the check is: our sentinel entries survive with the same inode, no entry that
// systemd-tmpfiles would create appears, and most pre-existing entries keep their inode.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace fleet::testing {

class MachineSnapshot {
 public:
  // Creates sentinel entries in /tmp (removed by the destructor) and records the state.
  static MachineSnapshot take();
  MachineSnapshot(MachineSnapshot&&) noexcept;
  MachineSnapshot& operator=(MachineSnapshot&&) = delete;
  ~MachineSnapshot();

  // Human-readable problems found compared to now; empty = machine untouched.
  std::vector<std::string> problems() const;

 private:
  MachineSnapshot() = default;
  std::map<std::string, ino_t> tmp_;          // top-level name -> inode
  std::map<std::string, std::string> files_;  // path -> hash:inode
  std::vector<std::string> sentinels_;
};

// Current top-level listing of /tmp (name -> inode).
std::map<std::string, ino_t> list_tmp();

}  // namespace fleet::testing
