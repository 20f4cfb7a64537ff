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
  // The weight of the residual branch's last convolution (out × in × kh × kw); its output
  // channels are the block's last ones (all of them unless a shortcut is concatenated first).
  virtual torch::Tensor last_conv_weight() const = 0;
  int64_t out_channels() const { return m_out_channels; }

 protected:
  explicit ResidualBlockImpl(int64_t out_channels) : m_out_channels(out_channels) {}
  // Registers `attn` (when the spec has one) for a branch of `channels` at h×w.
  void add_attention(const ModelSpec& spec, int64_t channels, int64_t h, int64_t w);
  torch::Tensor attend(const torch::Tensor& branch) {
    return m_attn ? m_attn->forward(branch) : branch;
  }
  // relu(attend(bn(c)) + shortcut), the tail of a post-activation block: one node in training
  // (block_tail.h) with no gate, a whole-map gate or GE-θ⁻'s local average; with another local
  // gate, BN and then the gate, the shortcut and the ReLU as one node (cell_gate.h).
  torch::Tensor bn_attend_residual(BatchNorm2d& bn, const torch::Tensor& c, const torch::Tensor& shortcut);

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

  // Every backbone is stem → residual blocks → head. The input of block i (stem and blocks
  // before it), and the logits from block i's input on: the analyses cache the first and run
  // the second many times.
  torch::Tensor forward_until(size_t block, const torch::Tensor& x);
  torch::Tensor forward_from(size_t block, const torch::Tensor& input);
  size_t block_count() const { return m_sequence.size(); }

 protected:
  explicit NetworkImpl(ModelSpec spec) : m_spec(std::move(spec)) {}
  virtual torch::Tensor stem(const torch::Tensor& x) = 0;
  virtual torch::Tensor head(const torch::Tensor& features) = 0;
  // Appends a block to the sequence the forward pass runs (registration is the caller's).
  void add_to_sequence(std::shared_ptr<ResidualBlockImpl> block) { m_sequence.push_back(std::move(block)); }

 private:
  ModelSpec m_spec;
  std::vector<std::shared_ptr<ResidualBlockImpl>> m_sequence;
};

using Network = std::shared_ptr<NetworkImpl>;

// Stores the 4-D weights channels-last: with channels-last inputs, CPU convolutions then run
// without layout conversions (about 3× faster here).
void to_channels_last(torch::nn::Module& module);

// He (fan-out) init for convolutions, BN to identity; one place, walking modules().
void init_weights(torch::nn::Module& module);

// The parts of a network by tensor (or module) name: the head is the final classifier `fc`, an
// attention module's tensors sit under `.attn.`, the backbone is everything else.
bool is_head_tensor(const std::string& name);
bool is_attention_tensor(const std::string& name);

}  // namespace gex
