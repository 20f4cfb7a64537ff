// A Gather-Excite module with a whole-map gather, y = x ⊙ σ(excite(Σ_hw w ⊙ x)), as one autograd
// node for training. Its backward,
//   dg = Σ_hw dy ⊙ x,  ds = excite'ᵀ(dg ⊙ g(1 − g)),  dx = dy ⊙ g + ds ⊗ w,  dw = Σ_n ds ⊗ x,
// reads the map three times where the generic graph (multiply, sum, broadcast, accumulate) takes
// about eight passes and as many temporaries; at 28×28 those passes are GE's whole training cost.
#pragma once

#include <torch/torch.h>

#include <functional>

namespace gex {

// A gate the fused nodes compute themselves: one the same at every position of a map,
// g = σ(excite(Σ_hw w ⊙ x)) — GE with a global gather (θ⁻ average, θ, θ⁺) and SE — or GE-θ⁻'s
// average at a local extent e, g = interp(σ(avgpool(x))) (GE-SPEC §1; the block tail only).
struct FusedGate {
  // The depthwise gather kernel (C×1×H×W); undefined for the plain average (GE-θ⁻, SE).
  torch::Tensor weight;
  // Maps the gathered N×C×1×1 to logits (BN, the θ⁺ or SE MLP); it runs with its own graph, so
  // its parameters get their gradients as usual. Null: the logits are the gathered values.
  std::function<torch::Tensor(const torch::Tensor&)> excite;
  // 0: a whole-map gather. e = 2, 4, 8: GE-θ⁻'s average over windows of 2e − 1 with stride e
  // (padding e − 1, not counted), the gate taken back to the map's size by nearest neighbour;
  // no weight and no excite then.
  int extent = 0;
};

torch::Tensor global_gather_excite(const torch::Tensor& x, const FusedGate& gate);

// Whether training may use the fused nodes (this file's and block_tail.h's) on this thread.
bool fused_training_enabled();
// How often the fused nodes ran on this thread (cumulative), so that a test can assert that the
// path it means to check ran: BN tails (with BN + ReLU alone among them), those of them with a
// gate, those with a local gate, whole-map gates as nodes of their own, and local gates as nodes
// of their own (cell_gate.h).
struct FusedNodeCounts {
  int64_t tails = 0, gated_tails = 0, local_tails = 0, gates = 0, cell_gates = 0;
};
FusedNodeCounts fused_node_counts();
void count_fused_node(bool tail, bool gated, bool local = false);

// While alive, training on this thread runs the modules' generic graph: what the fused nodes are
// tested against.
class GenericGraphGuard {
 public:
  GenericGraphGuard();
  ~GenericGraphGuard();
  GenericGraphGuard(const GenericGraphGuard&) = delete;
  GenericGraphGuard& operator=(const GenericGraphGuard&) = delete;

 private:
  bool m_previous;
};

}  // namespace gex
