// Pre-activation networks for CIFAR (He et al. 2016b): ResNet-164 (bottleneck, 18 blocks a stage,
// as the common PyTorch port: stride on the 3×3, 1×1-conv shortcut on the raw input) and
// WRN-16-8 (Zagoruyko & Komodakis: basic blocks, widths 128/256/512, shortcut on the activated
// input). The attention module follows the last convolution of the branch.
#pragma once

#include "models/resnet.h"

namespace gex {

class PreActBottleneckImpl : public ResidualBlockImpl {
 public:
  PreActBottleneckImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride,
                       FeatureSize& size);
  torch::Tensor forward_block(const torch::Tensor& x) override;
  torch::Tensor last_conv_weight() const override { return conv3->weight; }
  static constexpr int64_t kExpansion = 4;

 private:
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, down_conv{nullptr};
};

class WideBasicBlockImpl : public ResidualBlockImpl {
 public:
  WideBasicBlockImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride,
                     FeatureSize& size);
  torch::Tensor forward_block(const torch::Tensor& x) override;
  torch::Tensor last_conv_weight() const override { return conv2->weight; }

 private:
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, down_conv{nullptr};
};

// Stem conv, three stages, final BN (`bn`) + ReLU, global average pool, `fc`.
class PreActResNetImpl : public NetworkImpl {
 public:
  enum class Kind { kPreResNet164, kWideResNet16x8 };
  PreActResNetImpl(const ModelSpec& spec, Kind kind);

 protected:
  torch::Tensor stem(const torch::Tensor& x) override;
  torch::Tensor head(const torch::Tensor& features) override;

 private:
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace gex
