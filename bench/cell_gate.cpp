// The cell gate (models/cell_gate.h) against the generic graph it replaces — σ, nearest
// interpolation, product, sum with the shortcut, ReLU, and their backward — on the maps of a
// ResNet-20 block tail (28×28 Fashion-MNIST: 16 channels at 28×28, 32 at 14×14, 64 at 7×7),
// forward and backward, the two interleaved in one process, best of --repeats rounds each. The
// gather itself (pooling or depthwise convolutions) runs the same on both sides and is left out.
//
//   build/bin/bench_cell_gate [--batch 128] [--threads 2] [--repeats 7] [--iterations 10]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "heap.h"
#include "models/cell_gate.h"
#include "models/global_gate.h"
#include "models/tail_kernels.h"

namespace {

namespace F = torch::nn::functional;

// Seconds for `iterations` forward + backward passes of one path.
template <typename Step>
double time_of(Step&& step, int iterations) {
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) step();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as gex has it
  CLI::App app{"The cell gate node against its generic graph"};
  int64_t batch = 128;
  int threads = 2, repeats = 7, iterations = 10;
  app.add_option("--batch", batch);
  app.add_option("--threads", threads);
  app.add_option("--repeats", repeats, "Rounds, each path timed once per round; the best counts");
  app.add_option("--iterations", iterations, "Forward + backward passes per timing");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  torch::manual_seed(0);

  std::printf("%-8s %-10s %-6s %12s %12s %8s\n", "extent", "map", "cells", "generic ms", "node ms", "ratio");
  const auto cl = torch::MemoryFormat::ChannelsLast;
  for (const int e : {2, 4, 8}) {
    double generic_step = 0, node_step = 0;  // ResNet-20: three blocks per map size
    for (const auto& [C, H] : {std::pair<int64_t, int64_t>{16, 28}, {32, 14}, {64, 7}}) {
      const gex::tail::Cells cells{H, H, e};
      auto x = torch::randn({batch, C, H, H}).contiguous(cl).requires_grad_(true);
      auto sc = torch::randn({batch, C, H, H}).contiguous(cl).requires_grad_(true);
      auto logits = torch::randn({batch, C, cells.rows(), cells.cols()}).contiguous(cl).requires_grad_(true);
      const auto probe = torch::randn({batch, C, H, H}).contiguous(cl);
      auto node = [&] {
        for (auto* t : {&x, &sc, &logits}) t->mutable_grad() = torch::Tensor();
        gex::fused_cell_gate(x, logits, e, sc, true).backward(probe);
      };
      auto generic = [&] {
        for (auto* t : {&x, &sc, &logits}) t->mutable_grad() = torch::Tensor();
        const auto g = F::interpolate(torch::sigmoid(logits),
                                      F::InterpolateFuncOptions().size(std::vector<int64_t>{H, H}).mode(torch::kNearest));
        (x * g).add_(sc).relu_().backward(probe);
      };
      node(), generic();  // warm-up
      double best_node = 1e30, best_generic = 1e30;
      for (int r = 0; r < repeats; ++r) {
        best_generic = std::min(best_generic, time_of(generic, iterations));
        best_node = std::min(best_node, time_of(node, iterations));
      }
      const double g_ms = 1e3 * best_generic / iterations, n_ms = 1e3 * best_node / iterations;
      generic_step += 3 * g_ms, node_step += 3 * n_ms;
      std::printf("%-8d %-10s %-6lld %12.3f %12.3f %8.2f\n", e, (std::to_string(H) + "x" + std::to_string(H)).c_str(),
                  static_cast<long long>(cells.count()), g_ms, n_ms, g_ms / n_ms);
    }
    std::printf("e = %d, a ResNet-20 step's nine gates: generic %.2f ms, node %.2f ms (saves %.2f ms)\n", e,
                generic_step, node_step, generic_step - node_step);
  }
  return 0;
}
