#include "cores.h"

#include <sched.h>

#include <algorithm>
#include <cerrno>
#include <thread>

namespace gex {

int machine_cores() { return static_cast<int>(std::max(1u, std::thread::hardware_concurrency())); }

int available_cores() {
  // The kernel's mask may be wider than a cpu_set_t's 1024 bits: grow the set until it fits.
  for (int cpus = 1024; cpus <= (1 << 16); cpus *= 2) {
    cpu_set_t* set = CPU_ALLOC(cpus);
    if (!set) break;
    const size_t size = CPU_ALLOC_SIZE(cpus);
    CPU_ZERO_S(size, set);
    const int rc = ::sched_getaffinity(0, size, set);
    const int count = rc == 0 ? CPU_COUNT_S(size, set) : 0;
    const int error = errno;
    CPU_FREE(set);
    if (rc == 0) return std::max(1, count);
    if (error != EINVAL) break;
  }
  return machine_cores();
}

}  // namespace gex
