#pragma once
// Where a command writes: stdout for results, stderr for diagnostics. Commands never touch
// std::cout/std::cerr directly so tests can capture both (BufferOutput).

#include <iostream>
#include <sstream>
#include <string>

namespace fleet::fleetctl {

struct Output {
  std::ostream& out;
  std::ostream& err;
};

inline Output std_output() { return Output{std::cout, std::cerr}; }

// In-memory sinks for tests.
class BufferOutput {
 public:
  Output output() { return Output{out_, err_}; }
  std::string out() const { return out_.str(); }
  std::string err() const { return err_.str(); }
  void clear() {
    out_.str({});
    err_.str({});
  }

 private:
  std::ostringstream out_;
  std::ostringstream err_;
};

}  // namespace fleet::fleetctl
