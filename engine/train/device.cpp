#include "train/device.h"

#include <torch/cuda.h>

#include <algorithm>
#include <cctype>

#include "errors.h"

#if GEX_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace gex {

namespace {

// The K of cuda:K; -1 for a name without an index, -2 for a malformed one.
int gpu_index(const std::string& device) {
  const std::string prefix = "cuda:";
  if (device.rfind(prefix, 0) != 0) return -1;
  const std::string k = device.substr(prefix.size());
  if (k.empty() || k.size() > 4 || !std::all_of(k.begin(), k.end(), [](unsigned char c) { return std::isdigit(c); }))
    return -2;
  return std::stoi(k);
}

}  // namespace

std::vector<Gpu> gpus() {
  std::vector<Gpu> out;
#if GEX_WITH_CUDA
  for (int k = 0; k < static_cast<int>(torch::cuda::device_count()); ++k) {
    const auto* p = at::cuda::getDeviceProperties(k);
    out.push_back({k, p->name, static_cast<int64_t>(p->totalGlobalMem)});
  }
#endif
  return out;
}

bool is_device_name(const std::string& device) {
  return device == "auto" || device == "cpu" || device == "cuda" || gpu_index(device) >= 0;
}

torch::Device choose_device(const std::string& device) {
  if (!is_device_name(device))
    throw UsageError("--device must be auto, cpu, cuda or cuda:K (K the GPU's index), not '" + device + "'");
  if (device == "cpu") return torch::kCPU;
  const int count = static_cast<int>(torch::cuda::device_count());
  if (device == "auto") return count > 0 ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (count == 0) throw UsageError("--device " + device + ": no CUDA device is available to this build of LibTorch");
  if (device == "cuda") return torch::kCUDA;  // the current GPU (0 unless CUDA_VISIBLE_DEVICES says otherwise)
  const int k = gpu_index(device);
  if (k >= count)
    throw UsageError("--device " + device + ": there " + (count == 1 ? "is 1 GPU (cuda:0)" :
                     "are " + std::to_string(count) + " GPUs (cuda:0 … cuda:" + std::to_string(count - 1) + ")"));
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(k));
}

}  // namespace gex
