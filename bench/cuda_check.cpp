// The GPU half of the checks CPU-only CI cannot run (bench/cuda.sh runs it on a machine with a GPU):
//
//   bench_cuda_check modules            every attention variant on CUDA against the CPU: outputs
//                                       and gradients within 1e-4 (relative to the largest value)
//   bench_cuda_check compare A B [C]    the largest difference between the weights of checkpoints
//                                       A and B (and A and C), relative to the largest weight
//
// Prints one JSON object per line; exits 1 when a module check fails.
#include <torch/torch.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "models/registry.h"
#include "train/checkpoint.h"

namespace {

using gex::AttentionKind;
using gex::GEVariant;

// max |a − b| / max |a| (0 when both vanish).
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const auto ad = a.to(torch::kCPU, torch::kFloat64), bd = b.to(torch::kCPU, torch::kFloat64);
  const double scale = std::max(ad.abs().max().item<double>(), 1e-12);
  return (ad - bd).abs().max().item<double>() / scale;
}

// Forward and backward of one network on the CPU and on CUDA from the same weights and batch.
nlohmann::json check_module(const std::string& label, gex::ModelSpec spec) {
  torch::manual_seed(0);
  auto cpu = gex::build_network(spec);
  auto gpu = gex::build_network(spec);
  {
    torch::NoGradGuard no_grad;
    auto from = cpu->named_parameters();
    for (auto& p : gpu->named_parameters()) p.value().copy_(from[p.key()]);
  }
  gpu->to(torch::kCUDA);
  gex::to_channels_last(*cpu);
  gex::to_channels_last(*gpu);
  const auto x = torch::randn({8, spec.in_channels, spec.input_size, spec.input_size})
                     .contiguous(torch::MemoryFormat::ChannelsLast);
  const auto y = torch::randint(0, spec.num_classes, {8}, torch::kInt64);
  const auto out_cpu = cpu->forward(x);
  const auto out_gpu = gpu->forward(x.to(torch::kCUDA));
  torch::nn::functional::cross_entropy(out_cpu, y).backward();
  torch::nn::functional::cross_entropy(out_gpu, y.to(torch::kCUDA)).backward();
  double worst_grad = 0;
  std::string worst_name;
  auto grads = gpu->named_parameters();
  for (const auto& p : cpu->named_parameters()) {
    const auto& g = grads[p.key()].grad();
    if (!p.value().grad().defined() || !g.defined()) continue;
    const double d = relative_difference(p.value().grad(), g);
    if (d > worst_grad) worst_grad = d, worst_name = p.key();
  }
  const double out = relative_difference(out_cpu, out_gpu);
  return {{"check", "module"}, {"model", label}, {"output", out}, {"gradient", worst_grad},
          {"worst_gradient", worst_name}, {"pass", out <= 1e-4 && worst_grad <= 1e-4}};
}

int modules() {
  // Exact fp32 on the GPU (cuDNN would otherwise convolve in TF32).
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  struct Case {
    std::string label;
    AttentionKind attention;
    GEVariant variant;
    int extent;
  };
  const std::vector<Case> cases = {{"baseline", AttentionKind::kNone, GEVariant::kThetaMinus, gex::kGlobalExtent},
                                   {"SE", AttentionKind::kSE, GEVariant::kThetaMinus, gex::kGlobalExtent},
                                   {"GE-theta-minus global", AttentionKind::kGE, GEVariant::kThetaMinus, gex::kGlobalExtent},
                                   {"GE-theta-minus e4", AttentionKind::kGE, GEVariant::kThetaMinus, 4},
                                   {"GE-theta global", AttentionKind::kGE, GEVariant::kTheta, gex::kGlobalExtent},
                                   {"GE-theta e2", AttentionKind::kGE, GEVariant::kTheta, 2},
                                   {"GE-theta-plus global", AttentionKind::kGE, GEVariant::kThetaPlus, gex::kGlobalExtent}};
  bool ok = true;
  for (const auto& c : cases) {
    gex::ModelSpec spec;
    spec.backbone = "resnet20";
    spec.attention = c.attention;
    spec.variant = c.variant;
    spec.extent = c.extent;
    spec.in_channels = 1;
    spec.input_size = 28;
    const auto r = check_module(c.label, spec);
    ok = ok && r["pass"].get<bool>();
    std::printf("%s\n", r.dump().c_str());
  }
  return ok ? 0 : 1;
}

double weights_difference(const gex::Checkpoint& a, const gex::Checkpoint& b) {
  double worst = 0;
  auto other = b.net->named_parameters();
  for (const auto& p : a.net->named_parameters()) worst = std::max(worst, relative_difference(p.value(), other[p.key()]));
  return worst;
}

int compare(const std::vector<std::string>& paths) {
  const auto a = gex::load_checkpoint(paths[0]);
  nlohmann::json out = {{"check", "compare"}, {"a", paths[0]}};
  for (size_t k = 1; k < paths.size(); ++k)
    out[std::string(1, char('a' + k))] = {{"path", paths[k]}, {"difference", weights_difference(a, gex::load_checkpoint(paths[k]))}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  if (!torch::cuda::is_available()) {
    std::fprintf(stderr, "bench_cuda_check: no CUDA device\n");
    return 2;
  }
  if (args.size() == 1 && args[0] == "modules") return modules();
  if (args.size() >= 3 && args[0] == "compare") return compare({args.begin() + 1, args.end()});
  std::fprintf(stderr, "usage: bench_cuda_check modules | compare A.safetensors B.safetensors [C.safetensors]\n");
  return 2;
}
