// SGD with momentum, weight decay and Nesterov, with PyTorch's torch.optim.SGD update rule:
//   d = g + wd·p;  b = d (first step) or μ·b + d;  d = d + μ·b (Nesterov) or b;  p -= lr·d.
// Written here (a few lines) so that its state saves by parameter name into the checkpoint.
#pragma once

#include <torch/torch.h>

#include "io/safetensors.h"

namespace gex {

struct SgdOptions {
  double momentum = 0.9;
  double weight_decay = 1e-4;
  bool nesterov = false;
};

class Sgd {
 public:
  Sgd(TensorList named_parameters, SgdOptions options);
  void zero_grad();
  void step(double lr);
  // The same with the learning rate a 0-dim tensor on the parameters' device, read when the step
  // runs: a step captured in a CUDA graph follows the schedule at every replay. Needs the momentum
  // buffers (prepare_buffers), since a capture must not take the first step's other branch.
  void step(const torch::Tensor& lr);
  // Zero momentum buffers where there are none yet: μ·0 + d is the first step's d.
  void prepare_buffers();

  // Momentum buffers as "<parameter path>.momentum_buffer" (CPU copies).
  TensorList state() const;
  // Restores buffers saved by state(); InputError naming `source` and the key on a mismatch.
  void load_state(const TensorList& state, const std::string& source);

 private:
  void update(const std::function<void(torch::Tensor& p, const torch::Tensor& d)>& descend);
  TensorList m_params;
  std::vector<torch::Tensor> m_buffers;  // undefined until the first step
  SgdOptions m_options;
};

}  // namespace gex
