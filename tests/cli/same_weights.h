// Whether two runs ended with the same network: their `last` checkpoints, tensor by tensor.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "io/safetensors.h"

namespace gex::test {

// The runs' `last` hold bitwise the same tensors (named, in order); else the count that differ
// and the first of them.
inline void expect_same_weights(const std::string& a, const std::string& b) {
  const auto x = read_safetensors(a + "/checkpoints/last.safetensors").tensors;
  const auto y = read_safetensors(b + "/checkpoints/last.safetensors").tensors;
  ASSERT_EQ(x.size(), y.size());
  std::vector<std::string> differ;
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_EQ(x[i].first, y[i].first);
    if (!torch::equal(x[i].second, y[i].second)) differ.push_back(x[i].first);
  }
  EXPECT_TRUE(differ.empty()) << differ.size() << " tensors of " << x.size() << " differ between " << a << " and " << b
                              << ", the first " << (differ.empty() ? std::string() : differ.front());
}

}  // namespace gex::test
