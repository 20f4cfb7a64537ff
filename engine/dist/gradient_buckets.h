// Data-parallel gradients as PyTorch's DDP Reducer sums them: parameters go into flat buckets of a
// few MB in reverse registration order (roughly the order backward produces their gradients); an
// autograd hook copies each gradient into its bucket, and a bucket's all-reduce starts as soon as
// its last gradient is in, so communication overlaps the rest of backward. Buckets are launched in
// the same order on every rank.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "dist/process_group.h"

namespace gex {

class GradientBuckets {
 public:
  // `first_bucket_bytes` is smaller (DDP: 1 MB) so that the first all-reduce starts early.
  GradientBuckets(ProcessGroup& group, std::vector<torch::Tensor> parameters, int64_t bucket_bytes = 4 << 20,
                  int64_t first_bucket_bytes = 1 << 20);
  ~GradientBuckets();
  GradientBuckets(const GradientBuckets&) = delete;
  GradientBuckets& operator=(const GradientBuckets&) = delete;

  // Call before backward.
  void begin();
  // Call after backward: launches what no hook launched (parameters without a gradient this step
  // count as zero), waits, and sets every parameter's .grad to the sum over the ranks.
  void finish();

  int64_t bucket_count() const { return static_cast<int64_t>(m_buckets.size()); }
  int64_t bytes() const;

 private:
  struct Slot {
    torch::Tensor parameter;
    size_t bucket = 0;
    int64_t offset = 0;
    bool ready = false;
    int hook = -1;
  };
  struct Bucket {
    torch::Tensor flat;
    std::vector<size_t> slots;
    size_t pending = 0;
    std::unique_ptr<ProcessGroup::Pending> work;
  };
  void on_gradient(size_t slot, const torch::Tensor& grad);
  void launch_ready();

  ProcessGroup& m_group;
  std::vector<Slot> m_slots;
  std::vector<Bucket> m_buckets;
  size_t m_next_launch = 0;
  bool m_active = false;
};

}  // namespace gex
