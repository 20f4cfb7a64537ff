// The analyses' speed, each beside its peer in one run (issue figures): class selectivity over the
// test split and an 11-point pruning curve against one evaluation of the same checkpoint, gate
// maps for one image, capturing every gate of a ResNet-50 against a plain forward, and a default
// training probe against an epoch of training.
//
//   build/bin/bench_analyses [--checkpoint CKPT] [--data fashion-mnist] [--threads T] [--repeats R]
#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "analysis/gate_maps.h"
#include "analysis/probe.h"
#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "heap.h"
#include "io/npy.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace {

template <typename F>
double best_seconds(int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as gex has it
  CLI::App app{"Speed of the analyses against their peers"};
  std::string checkpoint = "resources/default-runs/resnet20-fashion-mnist-study/theta-minus/seed-1/checkpoints/best.safetensors";
  std::string data_name = "fashion-mnist";
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int repeats = 3;
  app.add_option("--checkpoint", checkpoint, "A trained checkpoint")->capture_default_str();
  app.add_option("--data", data_name, "Its data set")->capture_default_str();
  app.add_option("--threads", threads, "Intra-op threads")->capture_default_str();
  app.add_option("--repeats", repeats, "Best of R")->capture_default_str();
  bool probe_only = false;
  app.add_flag("--probe-only", probe_only, "Only the probe's cost against an epoch of training");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);

  auto ckpt = gex::load_checkpoint(checkpoint);
  gex::to_channels_last(*ckpt.net);
  gex::DataOptions options;
  options.input_size = ckpt.info.model.input_size;
  const auto data = gex::load_dataset(data_name, options);
  const auto& pre = ckpt.info.preprocess;
  auto& net = *ckpt.net;
  std::printf("Analyses, %s on %s (%lld test images), %d thread(s), best of %d\n\n",
              ckpt.info.model.describe().c_str(), data_name.c_str(), static_cast<long long>(data.test.size()), threads,
              repeats);

  if (!probe_only) {
  const double eval = best_seconds(repeats, [&] { gex::evaluate(net, data.test, gex::BatchMaker(pre, false), {}); });
  const double selectivity =
      best_seconds(repeats, [&] { gex::class_selectivity(net, data.test, pre, {}); });
  // The 11-point curve at the last block and at the first: the inputs of the pruned block are
  // computed once and reused for every ratio, which saves the network's front for the last
  // block and nothing for the first (each ratio then runs the whole network).
  const auto curve_seconds = [&](const std::string& block) {
    gex::PruneOptions po;
    po.blocks = {block};
    po.label = block;
    po.order = "csi-desc";
    return best_seconds(repeats, [&] { gex::pruning_curve(net, data.test, pre, po); });
  };
  const std::string last = net.blocks().back().first, first = net.blocks().front().first;
  const double prune_last = curve_seconds(last), prune_first = curve_seconds(first);
  std::printf("  %-44s %9s %9s\n", "", "seconds", "× eval");
  std::printf("  %-44s %9.2f %9.2f\n", "one evaluation (peer)", eval, 1.0);
  std::printf("  %-44s %9.2f %9.2f   (goal ≤ 1.2)\n", "class selectivity, every unit of every block", selectivity,
              selectivity / eval);
  std::printf("  %-44s %9.2f %9.2f   (goal ≤ 4)\n", ("11-point pruning curve at " + last + ", csi-desc").c_str(),
              prune_last, prune_last / eval);
  std::printf("  %-44s %9.2f %9.2f   (bound: 1 selectivity pass + 11 whole evaluations = 12)\n",
              ("11-point pruning curve at " + first + ", csi-desc").c_str(), prune_first, prune_first / eval);

#ifdef GEX_WITH_OPENCV
  const auto dir = std::filesystem::temp_directory_path() / "gex-bench-gates";
  std::filesystem::create_directories(dir);
  const auto png = (dir / "image.png").string();
  auto img = data.test.images[0].permute({1, 2, 0}).contiguous();
  cv::imwrite(png, cv::Mat(int(img.size(0)), int(img.size(1)), img.size(2) == 1 ? CV_8UC1 : CV_8UC3, img.data_ptr()));
  const double gates = best_seconds(std::max(repeats, 5), [&] { gex::write_gate_maps(ckpt, {png}, (dir / "out").string(), {}); });
  std::printf("  %-44s %9.1f ms      (goal ≤ 30 ms; decode, forward, %zu gate .npy and PNG overlays)\n",
              "gate maps for one image", 1000 * gates, net.attention_modules().size());
  std::filesystem::remove_all(dir);
#endif

  }

  // A default probe (issue 13: the gates of the first test image of each class, selectivity over
  // 1000 test images, the kept checkpoint) against an epoch of training the same network (batch
  // 128, probes off, steady-state images/s), interleaved: probe, train, probe, train …
  {
    const auto dir = std::filesystem::temp_directory_path() / "gex-bench-probe";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir / "probed" / "checkpoints");
    gex::TrainConfig config;
    config.model = ckpt.info.model;
    config.data = data_name;
    config.steps = 80;
    config.batch = 128;
    config.threads = threads;
    config.eval_limit = 1;
    config.log_every = 20;
    config.probes = false;
    const auto images = gex::probe_images(data.test, pre, {});
    gex::ProbeSettings settings;
    double probe = 1e300, images_per_second = 0;
    for (int r = 0; r < repeats; ++r) {
      probe = std::min(probe, best_seconds(1, [&] {
        gex::record_probe(net, pre, data.test, images, settings, (dir / "probed").string(), r + 1, 0, 0, true);
        gex::save_checkpoint(gex::probe_checkpoint_path((dir / "probed").string(), r + 1), net, ckpt.info, ckpt.extra);
      }));
      gex::WorkControl control;
      const auto summary = gex::train((dir / ("train-" + std::to_string(r))).string(), config, {}, control, &data);
      images_per_second = std::max(images_per_second, summary.images_per_second);
      torch::set_num_threads(threads);
    }
    const double epoch = double(data.train.size()) / images_per_second;
    std::printf("\n  a default probe (%zu images' gates, selectivity over %lld, kept checkpoint): %.2f s; an epoch of "
                "training: %.1f s (%.0f images/s): %.2f %% an epoch   (goal ≤ 5 %%)\n",
                images.size(), static_cast<long long>(settings.limit), probe, epoch, images_per_second,
                100 * probe / epoch);
    std::filesystem::remove_all(dir);
  }

  if (probe_only) return 0;
  // ResNet-50 GE-θ at 224: a forward that keeps every gate against one that keeps none.
  gex::ModelSpec spec;
  spec.backbone = "resnet50";
  spec.attention = gex::AttentionKind::kGE;
  spec.variant = gex::GEVariant::kTheta;
  spec.extent = 2;
  spec.num_classes = 1000;
  spec.input_size = 224;
  auto r50 = gex::build_network(spec);
  r50->eval();
  gex::to_channels_last(*r50);
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({1, 3, 224, 224}).contiguous(torch::MemoryFormat::ChannelsLast);
  r50->forward(x);
  const double plain = best_seconds(std::max(repeats, 5), [&] { r50->forward(x); });
  r50->set_gate_capture(true);
  const double captured = best_seconds(std::max(repeats, 5), [&] { r50->forward(x); });
  std::printf("\n  ResNet-50 GE-θ (e=2) at 224, batch 1: plain forward %.1f ms, all 16 gates captured %.1f ms: %.3f×"
              "   (goal ≤ 1.25)\n", 1000 * plain, 1000 * captured, captured / plain);
  return 0;
}
