// Multiply-accumulate counting for convolutions and linear layers. Every model calls its
// convolutions through `conv()`/`linear()`; while a MacCounting scope is alive on the thread,
// each call adds its MACs (zero cost otherwise: one thread-local pointer test).
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace gex {

class MacCounting {
 public:
  MacCounting();
  ~MacCounting();
  MacCounting(const MacCounting&) = delete;
  MacCounting& operator=(const MacCounting&) = delete;
  int64_t macs() const { return m_macs; }
  void add(int64_t macs) { m_macs += macs; }

 private:
  int64_t m_macs = 0;
  MacCounting* m_outer;
};

torch::Tensor conv(torch::nn::Conv2d& layer, const torch::Tensor& x);
// A 1×1 convolution (no stride, padding or groups) as one matrix product over the channels: the
// same sums, without the convolution's fixed cost per call, which is most of the cost on the
// excite MLPs' N×C×1×1 maps (oneDNN: ~4× the time, forward and backward). Channels-last out.
torch::Tensor pointwise_conv(torch::nn::Conv2d& layer, const torch::Tensor& x);
// For layers computed another way: adds `macs` per image while counting.
void count_macs(int64_t macs);
torch::Tensor linear(torch::nn::Linear& layer, const torch::Tensor& x);

}  // namespace gex
