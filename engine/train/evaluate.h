// Loss and top-1/top-5 error of a network on a labelled split, in eval mode, without gradients.
#pragma once

#include "control.h"

#include <functional>

#include "data/batches.h"
#include "data/dataset.h"
#include "models/network.h"
#include "sharding.h"

namespace gex {

struct Evaluation {
  double loss = 0;        // mean cross-entropy
  double top1_error = 0;  // fractions in [0, 1]
  double top5_error = 0;  // top-min(5, K)
  int64_t images = 0;
};

struct EvalOptions {
  int64_t limit = 0;  // the first N images of the split; 0: all
  int64_t batch = 256;
  torch::Device device = torch::kCPU;
  const WorkControl* control = nullptr;  // cancel, checked between batches
  std::function<void(int64_t done, int64_t total)> progress;
  Shard shard;  // data-parallel: this process evaluates its share; the figures are the whole split's
  bool cuda_graph = true;  // on a GPU, full batches' forward passes as a CUDA graph (no effect on the CPU)
  std::function<void(const std::string&)> on_message;  // a capture that failed, said once
};

Evaluation evaluate(NetworkImpl& net, const Split& split, const BatchMaker& make_batch, const EvalOptions& options);

// Adds one batch's loss sum and top-1/top-k hit counts to the running sums (tensors on the
// device, so that no host sync happens until the caller reads them).
void accumulate_hits(const torch::Tensor& logits, const torch::Tensor& labels, torch::Tensor& loss_sum,
                     torch::Tensor& top1, torch::Tensor& top5);

}  // namespace gex
