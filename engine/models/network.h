// The common face of every backbone: a spec, residual blocks that may carry an attention module
// (`attn`), and the hooks the analyses use (gate capture, block output hooks).
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/attention.h"
#include "models/model_spec.h"

namespace gex {

class ResidualBlockImpl : public torch::nn::Module {
 public:
  // The block, then its output hook (the analyses use it to read or zero channels).
  torch::Tensor forward(const torch::Tensor& x);
  virtual torch::Tensor forward_block(const torch::Tensor& x) = 0;

  using OutputHook = std::function<torch::Tensor(const torch::Tensor&)>;
  void set_output_hook(OutputHook hook) { m_output_hook = std::move(hook); }

  const std::shared_ptr<AttentionImpl>& attention() const { return m_attn; }
  int64_t out_channels() const { return m_out_channels; }

 protected:
  explicit ResidualBlockImpl(int64_t out_channels) : m_out_channels(out_channels) {}
  // Registers `attn` (when the spec has one) for a branch of `channels` at h×w.
  void add_attention(const ModelSpec& spec, int64_t channels, int64_t h, int64_t w);
  torch::Tensor attend(const torch::Tensor& branch) {
    return m_attn ? m_attn->forward(branch) : branch;
  }

 private:
  int64_t m_out_channels;
  std::shared_ptr<AttentionImpl> m_attn;
  OutputHook m_output_hook;
};

template <typename T>
using Named = std::vector<std::pair<std::string, std::shared_ptr<T>>>;

class NetworkImpl : public torch::nn::Module {
 public:
  // Checks the input against the spec (InputError), then runs the backbone: N×K logits.
  torch::Tensor forward(const torch::Tensor& x);
  const ModelSpec& spec() const { return m_spec; }

  // Attention modules by module path ("layer1.0.attn"), in depth order.
  Named<AttentionImpl> attention_modules() const;
  // Residual blocks by module path ("layer1.0"), in depth order.
  Named<ResidualBlockImpl> blocks() const;
  void set_gate_capture(bool on);

  // Throws InputError (naming `source`) unless x is N×C×S×S as the model expects.
  void check_input(const torch::Tensor& x, const std::string& source = "input") const;

 protected:
  explicit NetworkImpl(ModelSpec spec) : m_spec(std::move(spec)) {}
  virtual torch::Tensor forward_backbone(const torch::Tensor& x) = 0;

 private:
  ModelSpec m_spec;
};

using Network = std::shared_ptr<NetworkImpl>;

// Stores the 4-D weights channels-last: with channels-last inputs, CPU convolutions then run
// without layout conversions (about 3× faster here).
void to_channels_last(torch::nn::Module& module);

// He (fan-out) init for convolutions, BN to identity; one place, walking modules().
void init_weights(torch::nn::Module& module);

}  // namespace gex
