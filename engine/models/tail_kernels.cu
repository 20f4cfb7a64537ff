// The fused block tail's kernels (tail_kernels.h) and the cell gate's (cell_gate_kernels.h) as
// CUDA kernels: one thread per index, a grid-stride loop for grids larger than a launch takes.
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>

#include "models/cell_gate_kernels.h"
#include "models/tail_kernels.h"
#include "models/tail_launch.h"

namespace gex::tail {

namespace {

constexpr int kThreads = 256;

template <typename F>
__global__ void each_index(F f, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) f(i);
}

}  // namespace

template <typename F>
void launch_on_gpu(const F& f, int64_t n) {
  const int64_t blocks = std::min<int64_t>((n + kThreads - 1) / kThreads, int64_t(1) << 20);
  each_index<<<unsigned(blocks), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(f, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define GEX_TAIL_KERNELS(T, PT)                                                    \
  template void launch_on_gpu(const PartialSums<T, PT>&, int64_t);                 \
  template void launch_on_gpu(const ChannelStats<T, PT>&, int64_t);                \
  template void launch_on_gpu(const Output<T>&, int64_t);                          \
  template void launch_on_gpu(const ReluGradPartials<T>&, int64_t);                \
  template void launch_on_gpu(const InputGrad<T, PT>&, int64_t);                   \
  template void launch_on_gpu(const WeightGrad<T, PT>&, int64_t);                  \
  template void launch_on_gpu(const LocalGather<T>&, int64_t);                     \
  template void launch_on_gpu(const ReluGradCells<T>&, int64_t);                   \
  template void launch_on_gpu(const CellGateOutput<T>&, int64_t);                  \
  template void launch_on_gpu(const CellGateGrad<T>&, int64_t);

GEX_TAIL_KERNELS(float, float)
GEX_TAIL_KERNELS(c10::BFloat16, float)
GEX_TAIL_KERNELS(c10::Half, float)

// The passes over N×C and C that depend on the accumulation type only (float for all three).
template void launch_on_gpu(const ChannelGradSums<float, float>&, int64_t);
template void launch_on_gpu(const ImageSums<float>&, int64_t);
template void launch_on_gpu(const GatherFromSums<float>&, int64_t);
template void launch_on_gpu(const OutputCoefficients<float>&, int64_t);
template void launch_on_gpu(const ImageGradSums<float>&, int64_t);
template void launch_on_gpu(const ImageGradTerms<float>&, int64_t);
template void launch_on_gpu(const InputGradCoefficients<float>&, int64_t);

}  // namespace gex::tail
