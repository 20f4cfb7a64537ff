// Forward latency of ResNet-50 at 224×224 for each attention variant against the baseline, in
// one run (eval mode, no grad, channels-last). Variants are timed round-robin so that drift
// in the machine's speed hits all of them alike; the median of the repeats is reported.
//
//   build/bin/bench_forward_latency [--threads T] [--repeats R] [--batches 1,32] [--model resnet50]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "heap.h"
#include "models/registry.h"

namespace {

struct Variant {
  std::string label;
  gex::ModelSpec spec;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as gex has it
  CLI::App app{"Forward latency of each attention variant vs the baseline"};
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int repeats = 5;
  std::vector<int> batches = {1, 32};
  std::string model = "resnet50";
  int size = 224;
  app.add_option("--threads", threads, "Intra-op threads")->capture_default_str();
  app.add_option("--repeats", repeats, "Timed repeats per variant")->capture_default_str();
  app.add_option("--batches", batches, "Batch sizes")->delimiter(',')->capture_default_str();
  app.add_option("--model", model, "Backbone")->capture_default_str();
  app.add_option("--input-size", size, "Input size")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);

  auto make = [&](gex::AttentionKind kind, gex::GEVariant variant) {
    gex::ModelSpec spec;
    spec.backbone = model;
    spec.attention = kind;
    spec.variant = variant;
    spec.num_classes = 1000;
    spec.input_size = size;
    return spec;
  };
  using gex::AttentionKind;
  using gex::GEVariant;
  std::vector<Variant> variants = {
      {"baseline", make(AttentionKind::kNone, GEVariant::kThetaMinus)},
      {"SE", make(AttentionKind::kSE, GEVariant::kThetaMinus)},
      {"GE-theta-minus (global)", make(AttentionKind::kGE, GEVariant::kThetaMinus)},
      {"GE-theta (global)", make(AttentionKind::kGE, GEVariant::kTheta)},
      {"GE-theta-plus (global)", make(AttentionKind::kGE, GEVariant::kThetaPlus)},
  };
  std::vector<gex::Network> nets;
  std::vector<gex::Complexity> counts;
  for (auto& v : variants) {
    torch::manual_seed(0);
    nets.push_back(gex::build_network(v.spec));
    nets.back()->eval();
    counts.push_back(gex::measure_complexity(*nets.back()));
    gex::to_channels_last(*nets.back());
  }

  std::printf("Forward latency, %s at %d×%d, %d thread(s), median of %d (eval, no grad, channels-last)\n\n",
              model.c_str(), size, size, threads, repeats);
  torch::NoGradGuard no_grad;
  for (int batch : batches) {
    auto x = torch::randn({batch, 3, size, size}).contiguous(torch::MemoryFormat::ChannelsLast);
    std::vector<std::vector<double>> times(variants.size());
    for (auto& net : nets) net->forward(x);  // warm-up
    for (int r = 0; r < repeats; ++r) {
      for (size_t i = 0; i < nets.size(); ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        auto y = nets[i]->forward(x);
        (void)y.sum().item<float>();
        times[i].push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      }
    }
    const double base = median(times[0]);
    std::printf("batch %d\n  %-26s %10s %12s %9s %9s %10s\n", batch, "variant", "ms/batch", "images/s",
                "× base", "GMACs", "params");
    for (size_t i = 0; i < variants.size(); ++i) {
      const double ms = median(times[i]);
      std::printf("  %-26s %10.1f %12.1f %9.3f %9.3f %9.2fM\n", variants[i].label.c_str(), ms,
                  1000.0 * batch / ms, ms / base, counts[i].macs / 1e9, counts[i].params / 1e6);
    }
    std::printf("\n");
  }
  return 0;
}
