#include "heap.h"

#include <cstdlib>
#include <cstring>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gex {

namespace {

bool user_tuned_malloc() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables && std::strstr(tunables, "glibc.malloc.")) return true;
  for (const char* name : {"MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_"})
    if (std::getenv(name)) return true;
  return false;
}

}  // namespace

bool keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  if (user_tuned_malloc()) return false;
  // Both at once: setting either turns off glibc's adaptive threshold, and a trim threshold alone
  // would leave every block over 128 kB to mmap.
  return mallopt(M_MMAP_THRESHOLD, 256 << 20) == 1 && mallopt(M_TRIM_THRESHOLD, 512 << 20) == 1;
#else
  return false;
#endif
}

}  // namespace gex
