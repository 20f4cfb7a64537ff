// Launches the kernels of tail_kernels.h and cell_gate_kernels.h on the GPU (tail_kernels.cu,
// compiled by nvcc where the build has it: GEX_WITH_CUDA_KERNELS).
#pragma once

#include <cstdint>

namespace gex::tail {

// Runs f(i) for every i in [0, n) as one kernel on the current CUDA stream. Defined for the
// kernels of tail_kernels.h and cell_gate_kernels.h with T = float, bf16 or half and PT = float.
template <typename F>
void launch_on_gpu(const F& f, int64_t n);

struct CudaLaunch {
  template <typename F>
  static void run(const F& f, int64_t n) {
    if (n > 0) launch_on_gpu(f, n);
  }
};

}  // namespace gex::tail
