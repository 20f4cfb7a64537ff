// The gradient all-reduce of data-parallel training, measured and projected (issue 12): for each
// model, the bytes each process sends per step, the time of the bucketed all-reduce between two
// ranks over loopback Gloo (the buckets `gex train` uses: 1 MB first, then 4 MB; launched together,
// waited together, best of N), and on paper the time of a ring all-reduce of the same bytes on 8
// nodes at 10 and 100 Gb/s (each node sends and receives 2·(N−1)/N of the gradient).
//
//   build/bin/bench_allreduce [--repeats 20]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>

#include "dist/process_group.h"
#include "models/registry.h"

namespace {

using Clock = std::chrono::steady_clock;

// The flat buckets of a gradient of `bytes` (as GradientBuckets cuts them; parameters are not split).
std::vector<int64_t> bucket_sizes(int64_t bytes) {
  std::vector<int64_t> sizes;
  int64_t left = bytes;
  for (int64_t cap = 1 << 20; left > 0; cap = 4 << 20) {
    sizes.push_back(std::min(left, cap));
    left -= sizes.back();
  }
  return sizes;
}

// Best time of the bucketed all-reduce of `bytes` between two ranks (threads) over loopback.
double measure(int64_t bytes, int repeats) {
  gex::RendezvousHost store("127.0.0.1", 0, 2, std::chrono::seconds(60));
  std::vector<std::future<double>> ranks;
  for (int r = 0; r < 2; ++r)
    ranks.push_back(std::async(std::launch::async, [&, r] {
      gex::World w;
      w.rank = w.local_rank = r;
      w.size = w.local_size = 2;
      w.master_port = store.port();
      w.agent_store = true;
      auto group = gex::ProcessGroup::join(w, std::chrono::seconds(60));
      std::vector<torch::Tensor> buckets;
      for (int64_t b : bucket_sizes(bytes)) buckets.push_back(torch::ones({b / 4}));
      double best = 1e9;
      for (int k = 0; k < repeats + 2; ++k) {
        const auto t0 = Clock::now();
        std::vector<std::unique_ptr<gex::ProcessGroup::Pending>> pending;
        for (auto& b : buckets) pending.push_back(group->start_all_reduce_sum(b));
        for (auto& p : pending) p->wait();
        if (k >= 2) best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
      }
      return best;
    }));
  double t = 0;
  for (auto& r : ranks) t = std::max(t, r.get());
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Bucketed gradient all-reduce: bytes per step, time over loopback, and on paper at 8 nodes"};
  int repeats = 20;
  app.add_option("--repeats", repeats, "Timed all-reduces per model (best counts)");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  struct Model {
    const char* name;
    gex::ModelSpec spec;
  };
  std::vector<Model> models;
  for (const char* backbone : {"resnet20", "resnet56", "resnet50"}) {
    gex::ModelSpec s;
    s.backbone = backbone;
    s.attention = gex::AttentionKind::kGE;
    s.variant = gex::GEVariant::kThetaMinus;
    s.num_classes = std::string(backbone) == "resnet50" ? 1000 : 10;
    s.input_size = std::string(backbone) == "resnet50" ? 224 : 32;
    models.push_back({backbone, s});
  }
  std::printf("Gradient all-reduce per training step (GE-θ⁻, float32 gradients, buckets 1 MB then 4 MB)\n\n");
  std::printf("  %-10s %10s %9s %14s %22s %22s\n", "model", "params", "MB/step", "loopback, 2", "ring, 8 nodes, 10 Gb/s",
              "ring, 8 nodes, 100 Gb/s");
  for (const auto& m : models) {
    auto net = gex::build_network(m.spec);
    int64_t params = 0;
    for (const auto& p : net->parameters()) params += p.numel();
    const int64_t bytes = params * 4;
    const double loopback = measure(bytes, repeats);
    const double ring_bytes = 2.0 * 7.0 / 8.0 * double(bytes);  // sent (and received) by each node
    std::printf("  %-10s %9.2fM %9.2f %11.2f ms %19.1f ms %19.1f ms\n", m.name, params / 1e6, bytes / 1e6,
                1e3 * loopback, 1e3 * ring_bytes / (10e9 / 8), 1e3 * ring_bytes / (100e9 / 8));
  }
  std::printf("\n(loopback: two ranks of this process over 127.0.0.1, best of %d; the ring figures are bandwidth "
              "only: latency and the overlap with backward are left out)\n",
              repeats);
  return 0;
}
