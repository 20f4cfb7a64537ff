// Whether the fused nodes' cell map (tail::Cells: ATen's `nearest_idx` with a float scale) is the
// one the linked LibTorch's nearest-neighbour interpolation takes for a map like x — the GE
// module's own path (GatherExciteImpl::gate). ATen's kernels pick by the map's type and layout
// and have changed between releases: LibTorch 2.x's CPU kernel for double maps computes the scale
// in double and takes another cell at e.g. e = 4, H = 198, where 1.13's and every float kernel
// agree with Cells. Where they differ the fused nodes stand aside and the module's graph runs,
// so that fused and generic training are the same network.
#pragma once

#include <torch/torch.h>

namespace gex {

// x: an N×C×H×W map, channels-last as the fused nodes take it; extent: the gate's e > 0.
// Asked once per size, type, channel count and device (a 1×C×H×W interpolation), then
// remembered. During a CUDA graph's capture an unasked shape is answered no (nothing may run
// then that waits for the GPU).
bool interpolation_takes_cells(const torch::Tensor& x, int64_t extent);

}  // namespace gex
