// The GPU half of the checks CPU-only CI cannot run (bench/cuda.sh runs it on a machine with a GPU):
//
//   bench_cuda_check modules            every attention variant on CUDA against the CPU: outputs,
//                                       gradients and BN running statistics within 1e-4 (relative
//                                       to the largest value), the block tails fused on the GPU
//                                       where the build has their kernels (the local gates that are
//                                       not in a tail as cell gates); and in bf16 (autocast) the
//                                       fused nodes against the generic graph on the GPU; and
//                                       running out of GPU memory said as gex says it
//   bench_cuda_check compare A B [C]    the largest difference between the weights of checkpoints
//                                       A and B (and A and C), relative to the largest weight
//
// Prints one JSON object per line; exits 1 when a module check fails.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <optional>
#include <tuple>
#include <nlohmann/json.hpp>

#include "error_message.h"
#include "models/block_tail.h"
#include "models/global_gate.h"
#include "models/registry.h"
#include "train/autocast.h"
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
  const auto before = gex::fused_node_counts();
  const auto out_gpu = gpu->forward(x.to(torch::kCUDA));
  const int64_t fused_tails = gex::fused_node_counts().tails - before.tails;
  const int64_t local_tails = gex::fused_node_counts().local_tails - before.local_tails;
  const int64_t cell_gates = gex::fused_node_counts().cell_gates - before.cell_gates;
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
  double worst_buffer = 0;
  auto buffers = gpu->named_buffers();
  for (const auto& b : cpu->named_buffers())
    if (b.value().is_floating_point()) worst_buffer = std::max(worst_buffer, relative_difference(b.value(), buffers[b.key()]));
  const double out = relative_difference(out_cpu, out_gpu);
  // GE-θ⁻'s average at a local extent: its gates fused into the tails too; the other local gates
  // (θ⁻'s maximum, θ, θ⁺) as cell gates.
  const bool local = spec.attention == AttentionKind::kGE && spec.extent != gex::kGlobalExtent;
  const bool in_tail = spec.variant == GEVariant::kThetaMinus && spec.pool == gex::PoolKind::kAvg;
  const bool fused_ok = !gex::cuda_block_tail_built() ||
                        (fused_tails > 0 && (!local || (in_tail ? local_tails > 0 : cell_gates > 0)));
  return {{"check", "module"}, {"model", label}, {"output", out}, {"gradient", worst_grad},
          {"worst_gradient", worst_name}, {"running_statistics", worst_buffer}, {"fused_tails_on_gpu", fused_tails},
          {"local_gate_tails_on_gpu", local_tails}, {"cell_gates_on_gpu", cell_gates},
          {"pass", out <= 1e-4 && worst_grad <= 1e-4 && worst_buffer <= 1e-4 && fused_ok}};
}

// One bf16 (autocast) training step on the GPU with the fused nodes against the generic
// graph from the same weights and batch: the loss, and the gradients as a whole (relative norm of
// the difference), within bf16's rounding through 20 layers.
nlohmann::json check_bf16_tails(const std::string& label, const gex::ModelSpec& spec) {
  torch::manual_seed(0);
  auto net = gex::build_network(spec);
  net->to(torch::kCUDA);
  gex::to_channels_last(*net);
  const auto x = torch::randn({32, spec.in_channels, spec.input_size, spec.input_size}, torch::kCUDA)
                     .contiguous(torch::MemoryFormat::ChannelsLast);
  const auto y = torch::randint(0, spec.num_classes, {32}, torch::dtype(torch::kInt64).device(torch::kCUDA));
  std::vector<torch::Tensor> buffers;
  for (auto& t : net->buffers()) buffers.push_back(t.detach().clone());
  auto step = [&](bool fused) {
    {
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < buffers.size(); ++i) net->buffers()[i].copy_(buffers[i]);
    }
    net->zero_grad();
    std::optional<gex::GenericGraphGuard> generic;
    if (!fused) generic.emplace();
    const auto before = gex::fused_node_counts();
    torch::Tensor loss;
    {
      gex::CudaAutocast autocast(true);
      loss = torch::nn::functional::cross_entropy(net->forward(x), y);
    }
    loss.backward();
    std::vector<torch::Tensor> grads;
    for (auto& p : net->parameters())
      if (p.grad().defined()) grads.push_back(p.grad().flatten().to(torch::kFloat64));
    const auto after = gex::fused_node_counts();
    return std::make_tuple(loss.item<double>(), torch::cat(grads), after.tails - before.tails,
                           after.cell_gates - before.cell_gates);
  };
  const auto [loss_generic, grad_generic, tails_generic, cells_generic] = step(false);
  const auto [loss_fused, grad_fused, tails_fused, cells_fused] = step(true);
  const bool cell_gated = spec.attention == AttentionKind::kGE && spec.extent != gex::kGlobalExtent &&
                          !(spec.variant == GEVariant::kThetaMinus && spec.pool == gex::PoolKind::kAvg);
  const double loss_diff = std::abs(loss_fused - loss_generic) / std::max(std::abs(loss_generic), 1e-12);
  const double grad_diff = ((grad_fused - grad_generic).norm() / grad_generic.norm().clamp_min(1e-30)).item<double>();
  return {{"check", "bf16_tails"}, {"model", label}, {"loss", loss_diff}, {"gradient_norm", grad_diff},
          {"fused_tails", tails_fused}, {"generic_tails", tails_generic}, {"cell_gates", cells_fused},
          {"pass", loss_diff <= 2e-2 && grad_diff <= 0.1 && tails_fused > 0 && tails_generic == 0 &&
                       cells_generic == 0 && (!cell_gated || cells_fused > 0)}};
}

// A request no GPU can meet (1 PiB): the caching allocator's message, said by error_message().
nlohmann::json check_out_of_memory() {
  std::string said = "nothing thrown";
  try {
    const auto huge = torch::empty({int64_t(1) << 50}, torch::TensorOptions().dtype(torch::kUInt8).device(torch::kCUDA));
  } catch (const c10::Error& e) {
    said = gex::error_message(e);
  }
  return {{"check", "out_of_memory"}, {"message", said},
          {"pass", said.rfind("out of GPU memory: 1048576.00 GiB more could not be allocated on GPU 0, which has ", 0) == 0}};
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
    gex::PoolKind pool = gex::PoolKind::kAvg;
  };
  const std::vector<Case> cases = {{"baseline", AttentionKind::kNone, GEVariant::kThetaMinus, gex::kGlobalExtent},
                                   {"SE", AttentionKind::kSE, GEVariant::kThetaMinus, gex::kGlobalExtent},
                                   {"GE-theta-minus global", AttentionKind::kGE, GEVariant::kThetaMinus, gex::kGlobalExtent},
                                   {"GE-theta-minus e2", AttentionKind::kGE, GEVariant::kThetaMinus, 2},
                                   {"GE-theta-minus e4", AttentionKind::kGE, GEVariant::kThetaMinus, 4},
                                   {"GE-theta-minus e8", AttentionKind::kGE, GEVariant::kThetaMinus, 8},
                                   {"GE-theta global", AttentionKind::kGE, GEVariant::kTheta, gex::kGlobalExtent},
                                   {"GE-theta-minus max e4", AttentionKind::kGE, GEVariant::kThetaMinus, 4, gex::PoolKind::kMax},
                                   {"GE-theta e2", AttentionKind::kGE, GEVariant::kTheta, 2},
                                   {"GE-theta e4", AttentionKind::kGE, GEVariant::kTheta, 4},
                                   {"GE-theta-plus e4", AttentionKind::kGE, GEVariant::kThetaPlus, 4},
                                   {"GE-theta-plus global", AttentionKind::kGE, GEVariant::kThetaPlus, gex::kGlobalExtent}};
  bool ok = true;
  for (const auto& c : cases) {
    gex::ModelSpec spec;
    spec.backbone = "resnet20";
    spec.attention = c.attention;
    spec.variant = c.variant;
    spec.extent = c.extent;
    spec.pool = c.pool;
    spec.in_channels = 1;
    spec.input_size = 28;
    const auto r = check_module(c.label, spec);
    ok = ok && r["pass"].get<bool>();
    std::printf("%s\n", r.dump().c_str());
    // Every variant runs fused nodes on the GPU: the tails, with the gate or with a cell gate.
    if (gex::cuda_block_tail_built()) {
      const auto b = check_bf16_tails(c.label, spec);
      ok = ok && b["pass"].get<bool>();
      std::printf("%s\n", b.dump().c_str());
    }
  }
  const auto memory = check_out_of_memory();
  std::printf("%s\n", memory.dump().c_str());
  return ok && memory["pass"].get<bool>() ? 0 : 1;
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
