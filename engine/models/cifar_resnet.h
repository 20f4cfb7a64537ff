// ResNet-20/32/44/56/110 for 32×32 inputs (He et al. 2016, §4.2): three stages of 16/32/64
// channels, n = (depth − 2) / 6 basic blocks each, parameter-free option-A shortcuts.
#pragma once

#include "models/resnet.h"

namespace gex {

class CifarBasicBlockImpl : public ResidualBlockImpl {
 public:
  CifarBasicBlockImpl(const ModelSpec& spec, int64_t in, int64_t planes, int64_t stride,
                      FeatureSize& size);
  torch::Tensor forward_block(const torch::Tensor& x) override;
  torch::Tensor last_conv_weight() const override { return conv2->weight; }

 private:
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  BatchNorm2d bn1{nullptr}, bn2{nullptr};
  int64_t m_stride, m_pad_front, m_pad_back;
};

class CifarResNetImpl : public NetworkImpl {
 public:
  CifarResNetImpl(const ModelSpec& spec, int depth);

 protected:
  torch::Tensor stem(const torch::Tensor& x) override;
  torch::Tensor head(const torch::Tensor& features) override;

 private:
  torch::nn::Conv2d conv1{nullptr};
  BatchNorm2d bn1{nullptr};
  torch::nn::Linear fc{nullptr};
};

}  // namespace gex
