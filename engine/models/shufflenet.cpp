#include "models/shufflenet.h"

#include "models/block_tail.h"
#include "models/layers.h"
#include "models/mac_counter.h"

namespace gex {

namespace {
torch::Tensor shuffle_channels(const torch::Tensor& x, int64_t groups) {
  const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  return x.reshape({n, groups, c / groups, h, w}).transpose(1, 2).reshape({n, c, h, w});
}
}  // namespace

ShuffleUnitImpl::ShuffleUnitImpl(const ModelSpec& spec, int64_t in, int64_t out, int64_t stride,
                                 bool first_group, FeatureSize& size)
    : ResidualBlockImpl(out), m_stride(stride), m_groups1(first_group ? 1 : kGroups) {
  const int64_t mid = out / 4;
  const int64_t branch = stride == 2 ? out - in : out;
  conv1 = register_module("conv1", make_conv(in, mid, 1, 1, 0, m_groups1));
  bn1 = register_module("bn1", BatchNorm2d(mid));
  conv2 = register_module("conv2", make_conv(mid, mid, 3, stride, 1, mid));
  bn2 = register_module("bn2", BatchNorm2d(mid));
  conv3 = register_module("conv3", make_conv(mid, branch, 1, 1, 0, kGroups));
  bn3 = register_module("bn3", BatchNorm2d(branch));
  size = {conv_out(size.h, 3, stride, 1), conv_out(size.w, 3, stride, 1)};
  add_attention(spec, branch, size.h, size.w);
}

torch::Tensor ShuffleUnitImpl::forward_block(const torch::Tensor& x) {
  auto out = bn_relu(bn1, conv(conv1, x));
  out = shuffle_channels(out, kGroups);
  out = bn2(conv(conv2, out));
  out = conv(conv3, out);
  if (m_stride == 1) return bn_attend_residual(bn3, out, x);
  return torch::cat({torch::avg_pool2d(x, 3, 2, 1), torch::relu(attend(bn3(out)))}, 1);
}

ShuffleNetImpl::ShuffleNetImpl(const ModelSpec& spec) : NetworkImpl(spec) {
  conv1 = register_module("conv1", make_conv(spec.in_channels, 24, 3, 2, 1));
  bn1 = register_module("bn1", BatchNorm2d(24));
  FeatureSize size{conv_out(spec.input_size, 3, 2, 1), conv_out(spec.input_size, 3, 2, 1)};
  size = {conv_out(size.h, 3, 2, 1), conv_out(size.w, 3, 2, 1)};  // max pool
  const int repeats[] = {4, 8, 4};
  const int64_t widths[] = {240, 480, 960};
  int64_t in = 24;
  for (int stage = 0; stage < 3; ++stage) {
    torch::nn::ModuleList layer;
    for (int j = 0; j < repeats[stage]; ++j) {
      const int64_t stride = j == 0 ? 2 : 1;
      auto unit = std::make_shared<ShuffleUnitImpl>(spec, in, widths[stage], stride,
                                                    stage == 0 && j == 0, size);
      layer->push_back(unit);
      add_to_sequence(unit);
      in = widths[stage];
    }
    register_module("layer" + std::to_string(stage + 1), layer);
  }
  fc = register_module("fc", torch::nn::Linear(in, spec.num_classes));
}

torch::Tensor ShuffleNetImpl::stem(const torch::Tensor& x) {
  return torch::max_pool2d(bn_relu(bn1, conv(conv1, x)), 3, 2, 1);
}

torch::Tensor ShuffleNetImpl::head(const torch::Tensor& features) {
  return linear(fc, features.mean({2, 3}));
}

}  // namespace gex
