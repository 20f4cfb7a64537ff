#include "models/mac_counter.h"

namespace gex {
namespace {
thread_local MacCounting* t_counting = nullptr;
}

MacCounting::MacCounting() : m_outer(t_counting) { t_counting = this; }
MacCounting::~MacCounting() { t_counting = m_outer; }

torch::Tensor conv(torch::nn::Conv2d& layer, const torch::Tensor& x) {
  auto y = layer->forward(x);
  if (t_counting) {
    // Per image: every output element costs (C_in / groups) · kh · kw MACs.
    const auto& w = layer->weight;
    const int64_t per_output = w.size(1) * w.size(2) * w.size(3);
    t_counting->add(y.numel() / y.size(0) * per_output);
  }
  return y;
}

torch::Tensor pointwise_conv(torch::nn::Conv2d& layer, const torch::Tensor& x) {
  const auto& w = layer->weight;  // out × in × 1 × 1
  TORCH_CHECK(w.size(2) == 1 && w.size(3) == 1 && layer->options.groups() == 1, "pointwise_conv takes a 1x1 convolution");
  auto y = torch::linear(x.permute({0, 2, 3, 1}), w.flatten(1), layer->bias).permute({0, 3, 1, 2});
  if (t_counting) t_counting->add(y.numel() / y.size(0) * w.size(1));
  return y;
}

void count_macs(int64_t macs) {
  if (t_counting) t_counting->add(macs);
}

torch::Tensor linear(torch::nn::Linear& layer, const torch::Tensor& x) {
  auto y = layer->forward(x);
  if (t_counting) t_counting->add(y.numel() / y.size(0) * layer->weight.size(1));
  return y;
}

}  // namespace gex
