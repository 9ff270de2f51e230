#pragma once
// The heap of a short-lived fleetctl process, set up for its one burst of allocations.

namespace fleet::fleetctl {

// Call first thing in main(). A 10,000-unit listing allocates ~10 MiB in many small blocks; on a
// VM each first touch of a 4 KiB page is a fault costing microseconds, and glibc's defaults
// return big blocks to the OS as soon as they are freed, so every regrowth of a response body or
// of the vector of units faulted its pages in again. Measured on a 2-core VM (Firecracker,
// `list-unit-files` of 10,000 units): 3,700 faults and 60 ms of CPU, 86 ms in all; with the heap
// kept, 2,640 faults and 72 ms; kept and its first 64 MiB on transparent huge pages, 270 faults,
// 25 ms of CPU, 52 ms. Harmless where transparent huge pages are off (only keeping then helps).
void prepare_heap();

}  // namespace fleet::fleetctl
