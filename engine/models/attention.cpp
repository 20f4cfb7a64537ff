#include "models/attention.h"

#include "errors.h"
#include "models/cell_gate.h"
#include "models/global_gate.h"
#include "models/mac_counter.h"

namespace gex {

namespace F = torch::nn::functional;

std::optional<FusedGate> AttentionImpl::fusable_gate(const torch::Tensor& x) {
  if (m_capture || !fused_training_enabled() || !torch::GradMode::is_enabled() || !x.requires_grad())
    return std::nullopt;
  return fused_gate(x);
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x) {
  // Off the CPU only the parameter-free gate is fused: there the generic graph is no slower and
  // keeps mixed precision.
  if (auto fused = fusable_gate(x);
      fused && !fused->extent && (x.device().is_cpu() || (!fused->weight.defined() && !fused->excite)))
    return global_gather_excite(x, *fused);
  if (auto y = cell_gated(x, {}, /*relu=*/false); y.defined()) return y;
  auto g = gate(x);
  if (m_capture) {
    m_last_gate = g.detach();
  }
  return x * g;
}

GatherStageImpl::GatherStageImpl(int64_t channels, torch::ExpandingArray<2> kernel, int64_t stride,
                                 int64_t padding)
{
  conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, channels, kernel)
                                                       .stride(stride)
                                                       .padding(padding)
                                                       .groups(channels)
                                                       .bias(false)));
  bn = register_module("bn", BatchNorm2d(channels));
}

torch::Tensor GatherStageImpl::forward(const torch::Tensor& x) {
  const auto& w = conv->weight;
  if (m_whole_map) {
    // A depthwise kernel as large as the map: one weighted sum per channel. As a product and a
    // sum it is the same arithmetic without a convolution's im2col, forward and backward.
    count_macs(w.numel());
    return bn((x * w.view({1, -1, w.size(2), w.size(3)})).sum({2, 3}, /*keepdim=*/true));
  }
  return bn(gex::conv(conv, x));
}

ExciteMlpImpl::ExciteMlpImpl(int64_t channels) {
  const int64_t hidden = excite_hidden_width(channels);
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, hidden, 1)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, channels, 1)));
}

torch::Tensor ExciteMlpImpl::forward(const torch::Tensor& x) {
  return pointwise_conv(fc2, torch::relu(pointwise_conv(fc1, x)));
}

GatherExciteImpl::GatherExciteImpl(const GatherExciteOptions& options) : m_options(options) {
  const auto e = options.extent();
  TORCH_CHECK(e == kGlobalExtent || e == 2 || e == 4 || e == 8, "GE extent must be 2, 4, 8 or global");
  if (options.variant() == GEVariant::kThetaMinus) return;  // parameter-free

  m_gather = register_module("gather", torch::nn::ModuleList());
  const int64_t c = options.channels();
  if (e == kGlobalExtent) {
    TORCH_CHECK(options.height() > 0 && options.width() > 0,
                "a global GE-θ gather needs the feature map size");
    m_stages.emplace_back(c, torch::ExpandingArray<2>({options.height(), options.width()}), 1, 0);
    m_stages.back()->set_whole_map();
  } else {
    for (int stride_total = 1; stride_total < e; stride_total *= 2) {
      m_stages.emplace_back(c, torch::ExpandingArray<2>({3, 3}), 2, 1);
    }
  }
  for (auto& stage : m_stages) m_gather->push_back(stage);
  if (options.variant() == GEVariant::kThetaPlus) {
    m_mlp = register_module("mlp", ExciteMlp(c));
  }
}

void GatherExciteImpl::check_map_size(const torch::Tensor& x) const {
  if (x.size(2) == m_options.height() && x.size(3) == m_options.width()) return;
  throw InputError("a global " + std::string(m_options.variant() == GEVariant::kTheta ? "GE-θ" : "GE-θ⁺") +
                   " module expects a " + std::to_string(m_options.height()) + "×" +
                   std::to_string(m_options.width()) + " feature map but got " + std::to_string(x.size(2)) +
                   "×" + std::to_string(x.size(3)) + " (the model fixes its input size)");
}

torch::Tensor GatherExciteImpl::excite_logits(const torch::Tensor& x) {
  const int e = m_options.extent();
  torch::Tensor gathered;
  if (m_options.variant() == GEVariant::kThetaMinus) {
    const bool use_max = m_options.pool() == PoolKind::kMax;
    if (e == kGlobalExtent) {
      gathered = use_max ? x.amax({2, 3}, /*keepdim=*/true) : x.mean({2, 3}, /*keepdim=*/true);
    } else if (use_max) {
      gathered = F::max_pool2d(x, F::MaxPool2dFuncOptions(2 * e - 1).stride(e).padding(e - 1));
    } else {
      gathered = F::avg_pool2d(
          x, F::AvgPool2dFuncOptions(2 * e - 1).stride(e).padding(e - 1).count_include_pad(false));
    }
    return gathered;
  }

  if (e == kGlobalExtent) check_map_size(x);
  gathered = x;
  for (size_t i = 0; i < m_stages.size(); ++i) {
    gathered = m_stages[i]->forward(gathered);
    if (i + 1 < m_stages.size()) gathered = torch::relu(gathered);
  }
  if (m_options.variant() == GEVariant::kThetaPlus) {
    gathered = m_mlp->forward(torch::relu(gathered));
  }
  return gathered;
}

std::optional<FusedGate> GatherExciteImpl::fused_gate(const torch::Tensor& x) {
  if (m_options.variant() == GEVariant::kThetaMinus) {
    if (m_options.pool() != PoolKind::kAvg) return std::nullopt;
    FusedGate average;
    average.extent = m_options.extent();  // kGlobalExtent is 0, a whole-map gather
    return average;
  }
  if (m_options.extent() != kGlobalExtent) return std::nullopt;
  check_map_size(x);
  return FusedGate{m_stages[0]->conv->weight, [this](const torch::Tensor& s) {
                      auto z = m_stages[0]->bn(s);
                      return m_options.variant() == GEVariant::kThetaPlus ? m_mlp->forward(torch::relu(z)) : z;
                    }};
}

torch::Tensor GatherExciteImpl::cell_gated(const torch::Tensor& x, const torch::Tensor& shortcut, bool relu) {
  if (m_options.extent() == kGlobalExtent || capturing() || !cell_gate_applies(x, m_options.extent(), shortcut)) return {};
  return fused_cell_gate(x, excite_logits(x), m_options.extent(), shortcut, relu);
}

torch::Tensor GatherExciteImpl::gate(const torch::Tensor& x) {
  // Nearest interpolation and the sigmoid commute: take the sigmoid on the small map.
  auto g = torch::sigmoid(excite_logits(x));
  const bool single = g.size(2) == 1 && g.size(3) == 1;
  if (m_options.extent() == kGlobalExtent) return g;  // N×C×1×1, broadcasts
  if (single) {
    // A local gather that collapsed to one cell: broadcasting is what interpolation would give,
    // but a captured gate keeps the block's shape.
    return capturing() ? g.expand({-1, -1, x.size(2), x.size(3)}) : g;
  }
  return F::interpolate(g, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{x.size(2), x.size(3)})
                               .mode(torch::kNearest));
}

SqueezeExciteImpl::SqueezeExciteImpl(int64_t channels) {
  const int64_t hidden = excite_hidden_width(channels);
  fc1 = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, hidden, 1)));
  fc2 = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(hidden, channels, 1)));
}

torch::Tensor SqueezeExciteImpl::gate(const torch::Tensor& x) {
  auto squeezed = x.mean({2, 3}, /*keepdim=*/true);
  return torch::sigmoid(pointwise_conv(fc2, torch::relu(pointwise_conv(fc1, squeezed))));
}

std::optional<FusedGate> SqueezeExciteImpl::fused_gate(const torch::Tensor& x) {
  return FusedGate{torch::Tensor(), [this](const torch::Tensor& s) {
                      return pointwise_conv(fc2, torch::relu(pointwise_conv(fc1, s)));
                    }};
}

std::shared_ptr<AttentionImpl> make_attention(const ModelSpec& spec, int64_t channels, int64_t h,
                                              int64_t w) {
  switch (spec.attention) {
    case AttentionKind::kNone: return nullptr;
    case AttentionKind::kSE: return std::make_shared<SqueezeExciteImpl>(channels);
    case AttentionKind::kGE:
      return std::make_shared<GatherExciteImpl>(GatherExciteOptions(channels)
                                                    .variant(spec.variant)
                                                    .extent(spec.extent)
                                                    .pool(spec.pool)
                                                    .height(h)
                                                    .width(w));
  }
  return nullptr;
}

}  // namespace gex
