// ShuffleNet v1, 1×, g = 3 (Zhang et al. 2018): stages of 4/8/4 units with 240/480/960 channels.
// The attention module sits on the branch after its last BN, before the add (stride 1) or the
// concatenation with the average-pooled shortcut (stride 2).
#pragma once

#include "models/resnet.h"

namespace gex {

class ShuffleUnitImpl : public ResidualBlockImpl {
 public:
  ShuffleUnitImpl(const ModelSpec& spec, int64_t in, int64_t out, int64_t stride,
                  bool first_group, FeatureSize& size);
  torch::Tensor forward_block(const torch::Tensor& x) override;
  torch::Tensor last_conv_weight() const override { return conv3->weight; }
  static constexpr int64_t kGroups = 3;

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr}, conv3{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr}, bn3{nullptr};
  int64_t m_stride;
  int64_t m_groups1;
};

class ShuffleNetImpl : public NetworkImpl {
 public:
  explicit ShuffleNetImpl(const ModelSpec& spec);

 protected:
  torch::Tensor stem(const torch::Tensor& x) override;
  torch::Tensor head(const torch::Tensor& features) override;

 private:
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace gex
