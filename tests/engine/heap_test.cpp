#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "heap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace {

// Sets or clears an environment variable for one scope, then puts back what was there.
class ScopedVariable {
 public:
  ScopedVariable(const char* name, const char* value) : m_name(name) {
    if (const char* old = std::getenv(name)) m_old = old;
    value ? ::setenv(name, value, 1) : ::unsetenv(name);
  }
  ~ScopedVariable() { m_old ? ::setenv(m_name, m_old->c_str(), 1) : ::unsetenv(m_name); }
  ScopedVariable(const ScopedVariable&) = delete;
  ScopedVariable& operator=(const ScopedVariable&) = delete;

 private:
  const char* m_name;
  std::optional<std::string> m_old;
};

}  // namespace

// glibc maps a 100 MB block on its own (its adaptive threshold stops at 32 MB) and unmaps it when
// freed; with the heap kept for reuse it comes from the heap, and mallinfo2 counts no new mapping.
TEST(Heap, BlocksUpTo256MbComeFromTheHeapUnlessTheUserTunedMalloc) {
#if defined(__GLIBC__)
  {
    const ScopedVariable tunables("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");
    EXPECT_FALSE(gex::keep_freed_memory_for_reuse());
  }
  {
    const ScopedVariable trim("MALLOC_TRIM_THRESHOLD_", "4096");
    EXPECT_FALSE(gex::keep_freed_memory_for_reuse());
  }
  const ScopedVariable other_tunables("GLIBC_TUNABLES", "glibc.pthread.rseq=0");  // not malloc's
  const ScopedVariable no_trim("MALLOC_TRIM_THRESHOLD_", nullptr);
  ASSERT_TRUE(gex::keep_freed_memory_for_reuse());
  const auto mappings = mallinfo2().hblks;
  void* block = std::malloc(size_t(100) << 20);
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mappings) << "a 100 MB block was mapped on its own";
  std::free(block);
  void* huge = std::malloc(size_t(300) << 20);  // over the threshold: mapped, as before
  ASSERT_NE(huge, nullptr);
  EXPECT_EQ(mallinfo2().hblks, mappings + 1);
  std::free(huge);
#else
  GTEST_SKIP() << "glibc's malloc only";
#endif
}
