// A fixture that seeds Torch and runs on two threads, so every test is repeatable.
#pragma once

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace gex::test {

class Seeded : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::manual_seed(20180101);
    torch::set_num_threads(2);
  }
};

// Fills every parameter and BN statistic with random values (BN variances positive), so a
// comparison cannot pass by an identity initialisation.
inline void randomize(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.named_parameters()) p.value().uniform_(-1.0, 1.0);
  for (auto& b : module.named_buffers()) {
    if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 1.5);
    else if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
  }
}

}  // namespace gex::test
