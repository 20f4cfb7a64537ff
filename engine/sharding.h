// A share of a pass over data among the processes of a data-parallel job, and the sum that joins
// their results: each image is counted by exactly one process.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>

namespace gex {

// Sums a tensor over the processes of a job, in place (every process calls it in the same order).
using AllReduceSum = std::function<void(torch::Tensor&)>;

struct Shard {
  int index = 0, count = 1;
  AllReduceSum sum;  // set when count > 1

  // This process's rows [begin, end) of n (contiguous, sizes within one of each other).
  int64_t begin(int64_t n) const { return n * index / count; }
  int64_t end(int64_t n) const { return n * (index + 1) / count; }
  // The sum of `t` over the processes (nothing to do for one).
  void reduce(torch::Tensor& t) const {
    if (count > 1) sum(t);
  }
};

}  // namespace gex
