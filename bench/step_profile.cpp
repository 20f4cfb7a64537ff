// Where a training step's time goes: self time per operator (ATen ops, autograd nodes, the fused
// block tails) over steady-state training steps of the model `gex train` would train, on
// synthetic uint8 batches made as `gex train` makes them. Profile before optimising.
//
//   build/bin/bench_step_profile [--model resnet20] [--attention ge] [--variant theta-minus]
//                                [--extent global] [--batch 128] [--threads 2] [--steps 20] [--size 28] [--channels 1]
#include <CLI/CLI.hpp>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <thread>
#include <unordered_map>

#include "data/batches.h"
#include "data/preprocess.h"
#include "heap.h"
#include "models/model_spec.h"
#include "models/network.h"
#include "models/registry.h"
#include "train/sgd.h"

namespace {

namespace profiler = torch::autograd::profiler;

struct Totals {
  double self_us = 0, total_us = 0;
  int64_t calls = 0;
};

// Self time per name: each range's time less its children's, ranges nested per thread.
std::map<std::string, Totals> self_times(const profiler::thread_event_lists& lists) {
  std::map<std::string, Totals> out;
  for (const auto& events : lists) {
    struct Open {
      const profiler::LegacyEvent* start;
      double children_us;
    };
    std::vector<Open> stack;
    for (const auto& e : events) {
      if (e.kind() == profiler::EventKind::PushRange) {
        stack.push_back({&e, 0.0});
      } else if (e.kind() == profiler::EventKind::PopRange && !stack.empty()) {
        const auto open = stack.back();
        stack.pop_back();
        const double us = open.start->cpuElapsedUs(e);
        auto& t = out[open.start->name()];
        t.total_us += us, t.self_us += us - open.children_us, ++t.calls;
        if (!stack.empty()) stack.back().children_us += us;
      }
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as gex has it
  CLI::App app{"Self time per operator of a training step"};
  std::string model = "resnet20", attention = "ge", variant = "theta-minus", extent = "global";
  int batch = 128, threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int steps = 20, size = 28, channels = 1, top = 30;
  app.add_option("--model", model)->capture_default_str();
  app.add_option("--attention", attention, "none, se or ge")->capture_default_str();
  app.add_option("--variant", variant, "theta-minus, theta or theta-plus")->capture_default_str();
  app.add_option("--extent", extent, "2, 4, 8 or global")->capture_default_str();
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--threads", threads)->capture_default_str();
  app.add_option("--steps", steps, "Profiled steps (after 10 unprofiled)")->capture_default_str();
  app.add_option("--size", size, "Input size")->capture_default_str();
  app.add_option("--channels", channels, "Input channels")->capture_default_str();
  app.add_option("--top", top, "Rows to print")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(1);

  gex::ModelSpec spec;
  spec.backbone = model;
  const auto kind = gex::parse_attention(attention);
  const auto ge_variant = gex::parse_variant(variant);
  const auto ge_extent = gex::parse_extent(extent);
  if (!kind || !ge_variant || !ge_extent) {
    std::fprintf(stderr,
                 "bench_step_profile: --attention none|se|ge, --variant theta-minus|theta|theta-plus, "
                 "--extent 2|4|8|global\n");
    return 2;
  }
  spec.attention = *kind;
  spec.variant = *ge_variant;
  spec.extent = *ge_extent;
  spec.in_channels = channels, spec.input_size = size;
  auto net = gex::build_network(spec);
  net->train();
  gex::to_channels_last(*net);
  gex::TensorList params;
  for (const auto& p : net->named_parameters()) params.emplace_back(p.key(), p.value());
  gex::Sgd sgd(params, {});
  auto pre = gex::Preprocess::identity(channels, size, spec.num_classes);
  pre.mean.assign(channels, 72.9 / 255), pre.std.assign(channels, 90.0 / 255);
  const gex::BatchMaker make_batch(pre, /*augment=*/false);
  const auto images = torch::randint(0, 256, {batch, channels, size, size}, torch::kUInt8);
  const auto labels = torch::randint(0, spec.num_classes, {batch}, torch::kLong);

  auto step = [&] {
    sgd.zero_grad();
    const auto x = make_batch(images);
    auto loss = torch::nn::functional::cross_entropy(net->forward(x), labels);
    loss.backward();
    sgd.step(0.1);
  };
  for (int i = 0; i < 10; ++i) step();

  // Unprofiled step time: the best and the median of chunks of 5 steps (this VM's speed drifts).
  std::vector<double> chunks;
  for (int i = 0; i < std::max(1, steps / 5); ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < 5; ++k) step();
    chunks.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / 5);
  }
  std::sort(chunks.begin(), chunks.end());
  const double best_ms = chunks.front(), median_ms = chunks[chunks.size() / 2];

  profiler::enableProfilerLegacy(profiler::ProfilerConfig(profiler::ProfilerState::CPU));
  for (int i = 0; i < steps; ++i) step();
  const auto totals = self_times(profiler::disableProfilerLegacy());

  std::vector<std::pair<std::string, Totals>> rows(totals.begin(), totals.end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self_us > b.second.self_us; });
  double all_us = 0;
  for (const auto& [name, t] : rows) all_us += t.self_us;
  std::printf("%s, batch %d, %d thread(s): %.2f ms per step unprofiled (best 5-step chunk; median %.2f), "
              "%.2f ms profiled (%d steps)\n\n",
              spec.describe().c_str(), batch, threads, best_ms, median_ms, all_us / 1000 / steps, steps);
  std::printf("  %-52s %10s %7s %10s %8s\n", "operator", "self ms", "share", "total ms", "calls");
  for (int i = 0; i < std::min<int>(top, static_cast<int>(rows.size())); ++i) {
    const auto& [name, t] = rows[i];
    std::printf("  %-52.52s %10.2f %6.1f%% %10.2f %8.1f\n", name.c_str(), t.self_us / 1000 / steps,
                100 * t.self_us / all_us, t.total_us / 1000 / steps, double(t.calls) / steps);
  }
  return 0;
}
