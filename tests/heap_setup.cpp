// The test programs whose main() is GoogleTest's run the engine with the heap as gex and
// ge-explorer have it (heap.h), from before the first test.
#include "heap.h"

namespace {
[[maybe_unused]] const bool kHeapKept = gex::keep_freed_memory_for_reuse();
}  // namespace
