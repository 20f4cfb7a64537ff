#include "models/cifar_resnet.h"

#include "models/block_tail.h"
#include "models/layers.h"
#include "models/mac_counter.h"
#include "models/option_a_shortcut.h"

namespace gex {

CifarBasicBlockImpl::CifarBasicBlockImpl(const ModelSpec& spec, int64_t in, int64_t planes,
                                         int64_t stride, FeatureSize& size)
    : ResidualBlockImpl(planes), m_stride(stride) {
  conv1 = register_module("conv1", make_conv(in, planes, 3, stride, 1));
  bn1 = register_module("bn1", BatchNorm2d(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  size = {conv_out(size.h, 3, stride, 1), conv_out(size.w, 3, stride, 1)};
  add_attention(spec, planes, size.h, size.w);
  // Option A: the new channels are zeros, split evenly before and after the identity ones
  // (planes/4 each side when the width doubles, as the common PyTorch port does).
  m_pad_front = (planes - in) / 2;
  m_pad_back = planes - in - m_pad_front;
}

torch::Tensor CifarBasicBlockImpl::forward_block(const torch::Tensor& x) {
  auto out = bn_relu(bn1, conv(conv1, x));
  out = conv(conv2, out);
  const bool identity = m_stride == 1 && m_pad_front + m_pad_back == 0;
  return bn_attend_residual(bn2, out, identity ? x : option_a_shortcut(x, m_stride, m_pad_front, m_pad_back));
}

CifarResNetImpl::CifarResNetImpl(const ModelSpec& spec, int depth) : NetworkImpl(spec) {
  TORCH_CHECK((depth - 2) % 6 == 0, "CIFAR ResNet depth must be 6n+2");
  const int n = (depth - 2) / 6;
  conv1 = register_module("conv1", make_conv(spec.in_channels, 16, 3, 1, 1));
  bn1 = register_module("bn1", BatchNorm2d(16));
  FeatureSize size{spec.input_size, spec.input_size};
  int64_t in = 16;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t planes = int64_t{16} << stage;
    torch::nn::ModuleList layer;
    for (int j = 0; j < n; ++j) {
      const int64_t stride = (stage > 0 && j == 0) ? 2 : 1;
      auto block = std::make_shared<CifarBasicBlockImpl>(spec, in, planes, stride, size);
      layer->push_back(block);
      add_to_sequence(block);
      in = planes;
    }
    register_module("layer" + std::to_string(stage + 1), layer);
  }
  fc = register_module("fc", torch::nn::Linear(in, spec.num_classes));
}

torch::Tensor CifarResNetImpl::stem(const torch::Tensor& x) {
  return bn_relu(bn1, conv(conv1, x));
}

torch::Tensor CifarResNetImpl::head(const torch::Tensor& features) {
  return linear(fc, features.mean({2, 3}));
}

}  // namespace gex
