// BatchNorm2d that can take its batch statistics over every process of a data-parallel job, as
// PyTorch's SyncBatchNorm: N processes with batch B/N then train as one process with batch B.
// Unsynchronised (the default) it computes exactly what torch::nn::BatchNorm2d does, through the
// same ATen call, with the same parameters, buffers and checkpoint keys. (It is its own module:
// LibTorch does not export what a subclass of torch's BatchNorm2dImpl needs to link.)
#pragma once

#include <torch/torch.h>

#include <functional>

#include "sharding.h"

namespace gex {

class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  explicit BatchNorm2dImpl(const torch::nn::BatchNormOptions& options_);
  void reset() override;
  void reset_parameters();
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& x);

  torch::nn::BatchNormOptions options;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

  // In training mode, mean and variance over the union of the processes' batches (forward), and
  // their gradients summed likewise (backward). An empty function turns it off.
  void synchronise(AllReduceSum all_reduce_sum) { m_all_reduce_sum = std::move(all_reduce_sum); }
  bool synchronised() const { return static_cast<bool>(m_all_reduce_sum); }

 private:
  torch::Tensor synchronised_forward(const torch::Tensor& x);
  AllReduceSum m_all_reduce_sum;
};
TORCH_MODULE(BatchNorm2d);

// Synchronises (or, with an empty function, stops synchronising) every BatchNorm2d of a network.
// Returns how many there are.
int synchronise_batch_norm(torch::nn::Module& net, const AllReduceSum& all_reduce_sum);


}  // namespace gex
