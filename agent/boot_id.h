#pragma once
// Which boot of the host this is: the kernel's boot ID plus the start time of PID 1, so that a
// reboot changes it (a new kernel boot, or a new init in a container sharing the kernel) and a
// fleetd restart does not. A rolling reboot knows from it that a machine came back rebooted.

#include <string>

namespace fleet::agent {

// "<boot_id>-<PID 1 start time in clock ticks>"; parts that cannot be read are left out.
std::string current_boot_id();

}  // namespace fleet::agent
