// Small helpers the backbones share: convolution factories and output-size arithmetic.
#pragma once

#include <torch/torch.h>

namespace gex {

inline torch::nn::Conv2d make_conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1,
                                   int64_t padding = 0, int64_t groups = 1, bool bias = false) {
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(padding)
                               .groups(groups)
                               .bias(bias));
}

// Output length of a convolution or pooling along one axis.
inline int64_t conv_out(int64_t size, int64_t kernel, int64_t stride, int64_t padding) {
  return (size + 2 * padding - kernel) / stride + 1;
}

}  // namespace gex
