// What the block-tail nodes — the CPU's (block_tail.cpp) and the GPU's (block_tail_device.h) —
// keep for their backward, and the way back through a gate's excite that both take.
#pragma once

#include <torch/torch.h>

namespace gex {

// c and the output (saved for the ReLU's mask: an output of the node, so no copy is kept), the
// node's state, whether there is a shortcut and a gather weight to differentiate, the gather
// weight as P×C (undefined: none), and the excite's own graph s → logits (undefined: none).
inline void save_tail_context(torch::autograd::AutogradContext* ctx, const torch::Tensor& c, const torch::Tensor& out,
                              const torch::Tensor& state, bool shortcut, bool weight_grad, const torch::Tensor& w_pc,
                              const torch::Tensor& s, const torch::Tensor& logits) {
  ctx->save_for_backward({c, out});
  ctx->saved_data["state"] = state;
  ctx->saved_data["shortcut"] = shortcut;
  ctx->saved_data["weight_grad"] = weight_grad;
  if (w_pc.defined()) ctx->saved_data["w_pc"] = w_pc;
  if (s.defined()) {
    ctx->saved_data["s"] = s;
    ctx->saved_data["logits"] = logits;
  }
}

inline torch::Tensor saved_gather_weight(torch::autograd::AutogradContext* ctx) {
  return ctx->saved_data.count("w_pc") ? ctx->saved_data["w_pc"].toTensor() : torch::Tensor();
}

inline bool has_excite(torch::autograd::AutogradContext* ctx) { return ctx->saved_data.count("s") > 0; }

// The gradient at the excite's input s (N×C×1×1) for `dlogits` at its output, back through its own
// graph: the excite's parameters accumulate their gradients here.
inline torch::Tensor back_through_excite(torch::autograd::AutogradContext* ctx, const torch::Tensor& dlogits) {
  const auto logits = ctx->saved_data["logits"].toTensor();
  auto s = ctx->saved_data["s"].toTensor();
  torch::autograd::backward({logits}, {dlogits.to(logits.scalar_type()).view(logits.sizes())});
  return s.grad();
}

}  // namespace gex
