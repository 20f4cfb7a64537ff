// The attention modules of GE-SPEC §1: Gather-Excite (θ⁻, θ, θ⁺) and Squeeze-and-Excitation.
// Each returns x ⊙ gate and can keep its last gate for the analyses (capture is off by default
// and then costs nothing).
#pragma once

#include <torch/torch.h>

#include <memory>
#include <optional>

#include "models/batch_norm.h"
#include "models/global_gate.h"
#include "models/model_spec.h"

namespace gex {

class AttentionImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x);
  // The gate for x: N×C×H×W, or N×C×1×1 when it is the same at every position.
  virtual torch::Tensor gate(const torch::Tensor& x) = 0;
  // The gate as a FusedGate where the fused nodes compute it (a whole-map average or weighted
  // gather, GE-θ⁻'s average at a local extent): training then runs it inside one node
  // (global_gate.h, block_tail.h).
  virtual std::optional<FusedGate> fused_gate(const torch::Tensor& x) { return std::nullopt; }
  // fused_gate(x) when a fused node may replace this module for x: a gradient is wanted and no
  // gate is being captured.
  std::optional<FusedGate> fusable_gate(const torch::Tensor& x);
  // x ⊙ gate(x) (+ shortcut, undefined: none; then the ReLU with `relu`) as one node
  // (cell_gate.h) where the gate is one value per cell of a coarse map — GE at a local extent —
  // and a fused node may run; an undefined tensor otherwise.
  virtual torch::Tensor cell_gated(const torch::Tensor& x, const torch::Tensor& shortcut, bool relu) { return {}; }

  void set_capture(bool on) {
    m_capture = on;
    if (!on) m_last_gate = torch::Tensor();
  }
  bool capturing() const { return m_capture; }
  // The gate of the last forward while capture was on (detached), or an undefined tensor.
  const torch::Tensor& last_gate() const { return m_last_gate; }

 private:
  bool m_capture = false;
  torch::Tensor m_last_gate;
};

struct GatherExciteOptions {
  GatherExciteOptions(int64_t channels) : channels_(channels) {}
  TORCH_ARG(int64_t, channels);
  TORCH_ARG(GEVariant, variant) = GEVariant::kThetaMinus;
  TORCH_ARG(int, extent) = kGlobalExtent;
  TORCH_ARG(PoolKind, pool) = PoolKind::kAvg;
  // Feature map size; needed by a global θ/θ⁺ gather, whose kernel covers the whole map.
  TORCH_ARG(int64_t, height) = 0;
  TORCH_ARG(int64_t, width) = 0;
};

// One depthwise conv + BN stage of a parameterised gather (`attn.gather.I`).
class GatherStageImpl : public torch::nn::Module {
 public:
  GatherStageImpl(int64_t channels, torch::ExpandingArray<2> kernel, int64_t stride,
                  int64_t padding);
  torch::Tensor forward(const torch::Tensor& x);
  // The kernel covers the whole (fixed-size) map: a global gather.
  void set_whole_map() { m_whole_map = true; }
  torch::nn::Conv2d conv{nullptr};
  BatchNorm2d bn{nullptr};

 private:
  bool m_whole_map = false;
};
TORCH_MODULE(GatherStage);

// The 1×1-conv bottleneck C → max(1, C/16) → C with biases (`fc1`, `fc2`).
class ExciteMlpImpl : public torch::nn::Module {
 public:
  explicit ExciteMlpImpl(int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);  // fc2(relu(fc1(x)))
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ExciteMlp);

class GatherExciteImpl : public AttentionImpl {
 public:
  explicit GatherExciteImpl(const GatherExciteOptions& options);
  torch::Tensor gate(const torch::Tensor& x) override;
  std::optional<FusedGate> fused_gate(const torch::Tensor& x) override;
  torch::Tensor cell_gated(const torch::Tensor& x, const torch::Tensor& shortcut, bool relu) override;
  // gather(x) followed by excite_fn, before the interpolation and the sigmoid: N×C×H'×W'.
  torch::Tensor excite_logits(const torch::Tensor& x);
  const GatherExciteOptions& options() const { return m_options; }

 private:
  // A global θ/θ⁺ gather is as large as the map it was built for; InputError otherwise.
  void check_map_size(const torch::Tensor& x) const;
  GatherExciteOptions m_options;
  torch::nn::ModuleList m_gather{nullptr};  // `gather`: θ and θ⁺ only
  std::vector<GatherStage> m_stages;
  ExciteMlp m_mlp{nullptr};  // `mlp`: θ⁺ only
};

class SqueezeExciteImpl : public AttentionImpl {
 public:
  explicit SqueezeExciteImpl(int64_t channels);
  torch::Tensor gate(const torch::Tensor& x) override;
  std::optional<FusedGate> fused_gate(const torch::Tensor& x) override;
  torch::nn::Conv2d fc1{nullptr}, fc2{nullptr};
};

// The module a residual block of `channels` channels and h×w output gets under `spec`;
// nullptr for the baseline.
std::shared_ptr<AttentionImpl> make_attention(const ModelSpec& spec, int64_t channels, int64_t h,
                                              int64_t w);

// Hidden width of the SE and θ⁺ bottleneck (GE-SPEC §1).
inline int64_t excite_hidden_width(int64_t channels) { return std::max<int64_t>(1, channels / 16); }

}  // namespace gex
