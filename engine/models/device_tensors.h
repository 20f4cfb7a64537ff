// What the fused nodes read off their tensors for their loops and kernels (tail_kernels.h,
// cell_gate_kernels.h): the GPU nodes (block_tail_device.h, cell_gate_device.h) and the CPU cell gate.
#pragma once

#include <torch/torch.h>

#include "models/tail_kernels.h"

namespace gex {

// The tensor's data as the kernels' element type U (c10::BFloat16 for bf16, …); null when undefined.
template <typename U>
U* ptr(const torch::Tensor& t) {
  return t.defined() ? reinterpret_cast<U*>(t.data_ptr()) : nullptr;
}

// An N×C×H×W map's sizes, with its gate's cells of `extent`.
inline tail::Dims dims_of(const torch::Tensor& map, int64_t extent) {
  return {map.size(0), map.size(1), map.size(2) * map.size(3), tail::Cells{map.size(2), map.size(3), extent}};
}

}  // namespace gex
