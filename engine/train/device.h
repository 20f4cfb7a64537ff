// Where work runs: `auto`, `cpu`, `cuda` or `cuda:K` (the K-th GPU, as PyTorch numbers them), and
// the GPUs this build of LibTorch can see.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gex {

struct Gpu {
  int index = 0;
  std::string name;       // "NVIDIA H200"
  int64_t memory = 0;     // bytes
};

// The GPUs in CUDA's order; none when LibTorch was built without CUDA.
std::vector<Gpu> gpus();

// True for auto, cpu, cuda and cuda:K (K a decimal index), whether or not such a GPU exists.
bool is_device_name(const std::string& device);

// cpu; cuda (GPU 0) or cuda:K when asked for, or cuda when `auto` and a GPU is present. UsageError
// for a malformed name, for cuda without CUDA and for a GPU index beyond those present.
torch::Device choose_device(const std::string& device);

}  // namespace gex
