#include "models/resnet.h"

#include "models/block_tail.h"
#include "models/layers.h"
#include "models/mac_counter.h"

namespace gex {

void add_projection(torch::nn::Module& block, int64_t in, int64_t out, int64_t stride,
                    torch::nn::Conv2d& conv, BatchNorm2d& bn) {
  conv = make_conv(in, out, 1, stride);
  bn = BatchNorm2d(out);
  torch::nn::Sequential downsample(conv, bn);  // keys downsample.0 and downsample.1
  block.register_module("downsample", downsample);
}

BasicBlockImpl::BasicBlockImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride,
                               FeatureSize& size)
    : ResidualBlockImpl(planes) {
  conv1 = register_module("conv1", make_conv(in, planes, 3, stride, 1));
  bn1 = register_module("bn1", BatchNorm2d(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, 1, 1));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  size = {conv_out(size.h, 3, stride, 1), conv_out(size.w, 3, stride, 1)};
  add_attention(spec, planes, size.h, size.w);
  if (stride != 1 || in != planes) add_projection(*this, in, planes, stride, down_conv, down_bn);
}

torch::Tensor BasicBlockImpl::forward_block(const torch::Tensor& x) {
  auto out = bn_relu(bn1, conv(conv1, x));
  return bn_attend_residual(bn2, conv(conv2, out), down_conv ? down_bn(conv(down_conv, x)) : x);
}

BottleneckImpl::BottleneckImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride,
                               FeatureSize& size)
    : ResidualBlockImpl(planes * kExpansion) {
  const int64_t out = planes * kExpansion;
  // The stride on the first 1×1 (the paper's) or on the 3×3 (torchvision's "v1.5"): ModelSpec::stride_on.
  const bool on3x3 = spec.stride_on == StrideOn::k3x3;
  conv1 = register_module("conv1", make_conv(in, planes, 1, on3x3 ? 1 : stride));
  bn1 = register_module("bn1", BatchNorm2d(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, on3x3 ? stride : 1, 1));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  conv3 = register_module("conv3", make_conv(planes, out, 1));
  bn3 = register_module("bn3", BatchNorm2d(out));
  // The same output size either way: ceil(h / stride) for 1×1 pad 0 and for 3×3 pad 1.
  size = on3x3 ? FeatureSize{conv_out(size.h, 3, stride, 1), conv_out(size.w, 3, stride, 1)}
               : FeatureSize{conv_out(size.h, 1, stride, 0), conv_out(size.w, 1, stride, 0)};
  add_attention(spec, out, size.h, size.w);
  if (stride != 1 || in != out) add_projection(*this, in, out, stride, down_conv, down_bn);
}

torch::Tensor BottleneckImpl::forward_block(const torch::Tensor& x) {
  auto out = bn_relu(bn1, conv(conv1, x));
  out = bn_relu(bn2, conv(conv2, out));
  return bn_attend_residual(bn3, conv(conv3, out), down_conv ? down_bn(conv(down_conv, x)) : x);
}

ResNetImpl::ResNetImpl(const ModelSpec& spec, bool bottleneck, std::vector<int> blocks_per_stage)
    : NetworkImpl(spec) {
  conv1 = register_module("conv1", make_conv(spec.in_channels, 64, 7, 2, 3));
  bn1 = register_module("bn1", BatchNorm2d(64));
  FeatureSize size{spec.input_size, spec.input_size};
  size = {conv_out(size.h, 7, 2, 3), conv_out(size.w, 7, 2, 3)};
  size = {conv_out(size.h, 3, 2, 1), conv_out(size.w, 3, 2, 1)};  // max pool

  const int64_t expansion = bottleneck ? BottleneckImpl::kExpansion : BasicBlockImpl::kExpansion;
  int64_t in = 64;
  for (size_t stage = 0; stage < blocks_per_stage.size(); ++stage) {
    const int64_t planes = int64_t{64} << stage;
    torch::nn::ModuleList layer;
    for (int j = 0; j < blocks_per_stage[stage]; ++j) {
      const int64_t stride = (stage > 0 && j == 0) ? 2 : 1;
      std::shared_ptr<ResidualBlockImpl> block;
      if (bottleneck)
        block = std::make_shared<BottleneckImpl>(spec, in, planes, stride, size);
      else
        block = std::make_shared<BasicBlockImpl>(spec, in, planes, stride, size);
      layer->push_back(block);
      add_to_sequence(block);
      in = planes * expansion;
    }
    register_module("layer" + std::to_string(stage + 1), layer);
  }
  fc = register_module("fc", torch::nn::Linear(in, spec.num_classes));
}

torch::Tensor ResNetImpl::stem(const torch::Tensor& x) {
  return torch::max_pool2d(bn_relu(bn1, conv(conv1, x)), 3, 2, 1);
}

torch::Tensor ResNetImpl::head(const torch::Tensor& features) {
  return linear(fc, features.mean({2, 3}));
}

}  // namespace gex
