// ResNet-18/34/50/101/152 as torchvision names them, with the stride of a bottleneck stage on its
// first 1×1 convolution as in the original ResNet and the GE authors' release (GE-SPEC §3), or on
// its 3×3 as torchvision builds them (ModelSpec::stride_on).
#pragma once

#include "models/network.h"

namespace gex {

// Tracks the spatial size of the feature map while a backbone is built.
struct FeatureSize {
  int64_t h, w;
};

class BasicBlockImpl : public ResidualBlockImpl {
 public:
  BasicBlockImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride, FeatureSize& size);
  torch::Tensor forward_block(const torch::Tensor& x) override;
  torch::Tensor last_conv_weight() const override { return conv2->weight; }
  static constexpr int64_t kExpansion = 1;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, down_conv{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, down_bn{nullptr};
};

class BottleneckImpl : public ResidualBlockImpl {
 public:
  BottleneckImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride, FeatureSize& size);
  torch::Tensor forward_block(const torch::Tensor& x) override;
  torch::Tensor last_conv_weight() const override { return conv3->weight; }
  static constexpr int64_t kExpansion = 4;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, down_conv{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr}, down_bn{nullptr};
};

class ResNetImpl : public NetworkImpl {
 public:
  ResNetImpl(const ModelSpec& spec, bool bottleneck, std::vector<int> blocks_per_stage);

 protected:
  torch::Tensor stem(const torch::Tensor& x) override;
  torch::Tensor head(const torch::Tensor& features) override;

 private:
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

// The projection shortcut `downsample` = Sequential(1×1 conv, BN), registered on `block`.
void add_projection(torch::nn::Module& block, int64_t in, int64_t out, int64_t stride,
                    torch::nn::Conv2d& conv, BatchNorm2d& bn);

}  // namespace gex
