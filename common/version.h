#pragma once
// The build's version: the release version (the CMake project version) alone for a build of the
// commit tagged v<version>, else followed by git describe's suffix: 0.1.0-12-g1a2b3c4,
// 0.1.0-g1a2b3c4-dirty. Defined in one file generated at configure time, so a new version
// recompiles that file only, not everything that shows it.

namespace fleet {

const char* version();

}  // namespace fleet
