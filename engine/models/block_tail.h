// The tail of a post-activation residual block in training — BN, a gate, the shortcut and the
// ReLU — as one autograd node:
//   out = relu(x ⊙ g + shortcut),  x = bn(c),  g = σ(excite(Σ_hw w ⊙ x))
// or, for GE-θ⁻ at a local extent, g = interp(σ(avgpool(x))).
// On ResNet-20's small maps these element-wise steps, not the convolutions, are most of a
// training step's memory traffic. BN's batch statistics and the gather (a per-image sum, an
// affine function of c's) come out of one pass over c, the output out of a second; the backward
// takes two passes (BN's two reductions and the gate's dg in the first, dc in the second). The
// gate thus costs no pass of its own: the generic graph spends about a dozen on BN, the product,
// the sum and the ReLU, forward and backward. A local gate adds one read of c for its windows'
// averages (an average of x = bn(c) is BN's affine map of c's), and its dg is summed per cell.
#pragma once

#include <torch/torch.h>

#include "models/batch_norm.h"
#include "models/global_gate.h"

namespace gex {

// relu(bn(c) ⊙ g + shortcut) as one node; `gate` null: g = 1; `shortcut` undefined: none. Updates
// bn's running statistics as its forward does. Returns an undefined tensor where it does not
// apply — bn not training or not with the default running statistics, no gradient wanted, c not
// a channels-last map of float or double on the CPU, of float, bf16 or half on a GPU of a build
// with the CUDA kernels (block_tail_device.h), a local gate whose cells the module's
// interpolation does not take (cell_map.h) — and the caller then runs the modules.
torch::Tensor fused_bn_tail(const torch::Tensor& c, BatchNorm2dImpl& bn, const FusedGate* gate,
                            const torch::Tensor& shortcut);

// Whether this build has the node's CUDA kernels (nvcc was there: GEX_WITH_CUDA_KERNELS).
bool cuda_block_tail_built();

// relu(bn(c)), fused in training where it applies.
torch::Tensor bn_relu(BatchNorm2d& bn, const torch::Tensor& c);

}  // namespace gex
