// Mixed precision for the training step on CUDA.
#pragma once

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace gex {

// bf16 autocast on CUDA for the forward pass and the loss (bf16 needs no loss scaling). The call
// names changed in LibTorch 2.4.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool on) : m_on(on) {
    if (m_on) set(true);
  }
  ~CudaAutocast() {
    if (!m_on) return;
    set(false);
    at::autocast::clear_cache();
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  static void set(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, on);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(on);
#endif
  }
  bool m_on;
};

}  // namespace gex
