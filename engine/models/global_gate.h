// A Gather-Excite module with a whole-map gather, y = x ⊙ σ(excite(Σ_hw w ⊙ x)), as one autograd
// node for training. Its backward,
//   dg = Σ_hw dy ⊙ x,  ds = excite'ᵀ(dg ⊙ g(1 − g)),  dx = dy ⊙ g + ds ⊗ w,  dw = Σ_n ds ⊗ x,
// reads the map three times where the generic graph (multiply, sum, broadcast, accumulate) takes
// about eight passes and as many temporaries; at 28×28 those passes are GE's whole training cost.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace gex {

// With `shortcut`, the node is a post-activation residual block's tail, relu(x ⊙ g + shortcut):
// the sum and the ReLU then cost no passes of their own (the shortcut's gradient is the ReLU's).
// `weight` is the depthwise gather kernel (C×1×H×W), or undefined for the plain average of GE-θ⁻.
// `excite` maps the gathered N×C×1×1 to logits (BN, the θ⁺ MLP); it runs with its own graph, so
// its parameters get their gradients as usual. Null: the logits are the gathered values.
torch::Tensor global_gather_excite(const torch::Tensor& x, const torch::Tensor& weight,
                                   const std::function<torch::Tensor(const torch::Tensor&)>& excite,
                                   const torch::Tensor& shortcut = {});

}  // namespace gex
