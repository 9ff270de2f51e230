#pragma once
// The build's version (git describe of the source tree at configure time). Defined in one
// generated file, so a new commit recompiles that file only, not everything that shows it.

namespace fleet {

const char* version();

}  // namespace fleet
