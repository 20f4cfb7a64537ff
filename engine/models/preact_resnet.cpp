#include "models/preact_resnet.h"

#include "models/block_tail.h"
#include "models/layers.h"
#include "models/mac_counter.h"

namespace gex {

namespace {
// The 1×1 shortcut of a pre-activation block: `downsample.0`, no BN.
torch::nn::Conv2d add_conv_shortcut(torch::nn::Module& block, int64_t in, int64_t out,
                                    int64_t stride) {
  auto conv = make_conv(in, out, 1, stride);
  block.register_module("downsample", torch::nn::Sequential(conv));
  return conv;
}
}  // namespace

PreActBottleneckImpl::PreActBottleneckImpl(const ModelSpec& spec, int64_t in, int64_t planes,
                                           int64_t stride, FeatureSize& size)
    : ResidualBlockImpl(planes * kExpansion) {
  const int64_t out = planes * kExpansion;
  bn1 = register_module("bn1", BatchNorm2d(in));
  conv1 = register_module("conv1", make_conv(in, planes, 1));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, stride, 1));
  bn3 = register_module("bn3", BatchNorm2d(planes));
  conv3 = register_module("conv3", make_conv(planes, out, 1));
  size = {conv_out(size.h, 3, stride, 1), conv_out(size.w, 3, stride, 1)};
  add_attention(spec, out, size.h, size.w);
  if (stride != 1 || in != out) down_conv = add_conv_shortcut(*this, in, out, stride);
}

torch::Tensor PreActBottleneckImpl::forward_block(const torch::Tensor& x) {
  auto out = conv(conv1, bn_relu(bn1, x));
  out = conv(conv2, bn_relu(bn2, out));
  out = attend(conv(conv3, bn_relu(bn3, out)));
  return out + (down_conv ? conv(down_conv, x) : x);
}

WideBasicBlockImpl::WideBasicBlockImpl(const ModelSpec& spec, int64_t in, int64_t planes,
                                       int64_t stride, FeatureSize& size)
    : ResidualBlockImpl(planes) {
  bn1 = register_module("bn1", BatchNorm2d(in));
  conv1 = register_module("conv1", make_conv(in, planes, 3, stride, 1));
  bn2 = register_module("bn2", BatchNorm2d(planes));
  conv2 = register_module("conv2", make_conv(planes, planes, 3, 1, 1));
  size = {conv_out(size.h, 3, stride, 1), conv_out(size.w, 3, stride, 1)};
  add_attention(spec, planes, size.h, size.w);
  if (stride != 1 || in != planes) down_conv = add_conv_shortcut(*this, in, planes, stride);
}

torch::Tensor WideBasicBlockImpl::forward_block(const torch::Tensor& x) {
  auto activated = bn_relu(bn1, x);
  auto out = conv(conv1, activated);
  out = attend(conv(conv2, bn_relu(bn2, out)));
  // Where the shape changes, the shortcut reads the activated input (as the WRN code does).
  return out + (down_conv ? conv(down_conv, activated) : x);
}

PreActResNetImpl::PreActResNetImpl(const ModelSpec& spec, Kind kind) : NetworkImpl(spec) {
  conv1 = register_module("conv1", make_conv(spec.in_channels, 16, 3, 1, 1));
  FeatureSize size{spec.input_size, spec.input_size};
  int64_t in = 16;
  const bool wide = kind == Kind::kWideResNet16x8;
  const int blocks = wide ? (16 - 4) / 6 : (164 - 2) / 9;
  for (int stage = 0; stage < 3; ++stage) {
    const int64_t planes = wide ? (int64_t{16} << stage) * 8 : (int64_t{16} << stage);
    torch::nn::ModuleList layer;
    for (int j = 0; j < blocks; ++j) {
      const int64_t stride = (stage > 0 && j == 0) ? 2 : 1;
      std::shared_ptr<ResidualBlockImpl> block;
      if (wide)
        block = std::make_shared<WideBasicBlockImpl>(spec, in, planes, stride, size);
      else
        block = std::make_shared<PreActBottleneckImpl>(spec, in, planes, stride, size);
      in = block->out_channels();
      layer->push_back(block);
      add_to_sequence(block);
    }
    register_module("layer" + std::to_string(stage + 1), layer);
  }
  bn = register_module("bn", BatchNorm2d(in));
  fc = register_module("fc", torch::nn::Linear(in, spec.num_classes));
}

torch::Tensor PreActResNetImpl::stem(const torch::Tensor& x) {
  return conv(conv1, x);
}

torch::Tensor PreActResNetImpl::head(const torch::Tensor& features) {
  return linear(fc, bn_relu(bn, features).mean({2, 3}));
}

}  // namespace gex
