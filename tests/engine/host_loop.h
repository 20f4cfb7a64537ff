// The GPU nodes' launcher on the CPU: f(i) for every index, in order — so that the tests run the
// very kernel code nvcc compiles (tail_kernels.h, cell_gate_kernels.h).
#pragma once

#include <cstdint>

namespace gex::test {

struct HostLoop {
  template <typename F>
  static void run(const F& f, int64_t n) {
    for (int64_t i = 0; i < n; ++i) f(i);
  }
};

}  // namespace gex::test
