// Limits the tensor file readers (safetensors, .npy) hold a file's header to.
#pragma once

#include <cstdint>

namespace gex {

// No dimension or element count a real tensor has; keeps the size arithmetic from overflowing.
inline constexpr uint64_t kMaxElements = 1ull << 40;

}  // namespace gex
