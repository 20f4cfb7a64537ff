// A gate that is one value per cell of a coarse map — GE at a local extent e (GE-SPEC §1), whose
// gather (GE-θ⁻'s pooling, GE-θ's strided depthwise convolutions) leaves (H − 1)/e + 1 rows of
// cells — applied to its map, and in a post-activation block followed by the shortcut and the
// ReLU, as one autograd node for training:
//   out = relu(x ⊙ interp(σ(logits)) + shortcut)   or   out = x ⊙ interp(σ(logits)),
// interp the nearest-neighbour interpolation back to H×W (the cell interpolate picks:
// tail::Cells). Forward it reads x once and writes out; backward it reads the map once and writes
// dx and the shortcut's gradient, summing each cell's gradient on the way: the generic graph
// spends an interpolated gate map, a product, a sum and a ReLU forward and as many passes
// backward. The gather runs as before, with its own graph (the fused block tail of block_tail.h
// goes further for GE-θ⁻'s average, whose gather it computes from BN's input).
#pragma once

#include <torch/torch.h>

namespace gex {

// Whether fused_cell_gate applies to x at extent e (and the shortcut, undefined: none): fused
// training on, a gradient wanted, x a channels-last map of float or double on the CPU, or of
// float, bf16 or half on a GPU of a build with the CUDA kernels; the shortcut of x's shape, type
// and device; and the interpolation the module runs takes tail::Cells' cells (cell_map.h).
bool cell_gate_applies(const torch::Tensor& x, int extent, const torch::Tensor& shortcut);

// The node, where cell_gate_applies: logits is N×C×rows×cols, the cells of extent e for x's
// H×W (a mismatch is a bug: TORCH_CHECK).
torch::Tensor fused_cell_gate(const torch::Tensor& x, const torch::Tensor& logits, int extent,
                              const torch::Tensor& shortcut, bool relu);

}  // namespace gex
