// gex prune --checkpoint CKPT --data DATA (--layer NAME | --stage K) --order ORDER
//           [--ratios 0,0.1,...] [--repeats R] --out CSV: a pruning curve (GE-SPEC §6).
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <memory>

#include "analysis/pruning.h"
#include "dist/data_parallel.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/job.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace gex::cli {

Command add_prune_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    DataFlags data;
    CheckpointRunFlags run;
    std::string out, layer, order = "csi-desc";
    std::optional<int> stage;
    std::vector<double> ratios = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
    int repeats = 5;
    uint64_t seed = 0;
    JobFlags job;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("prune", "Error against the fraction of a block's channels zeroed");
  add_checkpoint_run_flags(app, f->data, f->run);
  auto* layer = app->add_option("--layer", f->layer, "Block to prune, e.g. layer3.2");
  auto* stage = app->add_option("--stage", f->stage, "Prune every block of stage K (layerK)");
  layer->excludes(stage);
  app->add_option("--order", f->order,
                  "csi-desc|csi-asc|act-desc|act-asc|l1-desc|l1-asc|gate-desc|gate-asc|random")
      ->capture_default_str();
  app->add_option("--ratios", f->ratios, "Fractions pruned")->delimiter(',')->capture_default_str();
  app->add_option("--repeats", f->repeats, "Random order: repeats")->check(CLI::Range(1, 1000))->capture_default_str();
  app->add_option("--seed", f->seed, "Random order: seed")
      ->check(not_negative())->capture_default_str();
  app->add_option("--out", f->out, "CSV to write: layer,order,ratio,repeat,top1_error,top5_error")->required();
  add_job_flags(app, f->job);
  add_common_flags(app, f->common);
  return {app, [f, app]() {
            if (will_write_results()) check_new_output("--out", f->out, Output::File);
            if (const auto launched = launch_workers_if_asked(f->job)) return *launched;
            const auto group = join_job(f->job, app, f->common);  // each rank passes over its share
            const bool speaks = cli::speaks(group.get());
            apply_threads(f->common);
            if (f->layer.empty() && !f->stage) throw UsageError("give --layer NAME or --stage K");
            auto ckpt = load_checkpoint(f->run.checkpoint);
            PruneOptions po;
            if (f->stage) {
              po.label = "layer" + std::to_string(*f->stage);
              po.blocks = blocks_named(*ckpt.net, po.label);
              if (po.blocks.empty()) throw UsageError("this model has no stage " + std::to_string(*f->stage));
            } else {
              po.label = f->layer;
              po.blocks = {f->layer};
            }
            po.order = f->order;
            po.ratios = f->ratios;
            po.repeats = f->repeats;
            po.seed = f->seed;
            po.limit = f->run.limit;
            po.batch = f->run.batch;
            po.device = device_of_rank(choose_device(f->run.device), group.get());
            po.shard = shard_of(group.get());
            check_prune_options(*ckpt.net, po);
            const Dataset data = load_for_checkpoint(f->data, ckpt.info, f->run, "gex prune", group.get());
            po.on_message = [](const std::string& m) { std::fprintf(stderr, "gex prune: %s\n", m.c_str()); };
            ckpt.net->to(po.device);
            to_channels_last(*ckpt.net);
            WorkControl control;
            po.control = &control;
            const auto rows = [&] {
              const CancelOnSignal on_signal(group ? nullptr : &control);
              return pruning_curve(*ckpt.net, f->run.split == "train" ? data.train : data.test, ckpt.info.preprocess,
                                   po, [&](const PruneRow& r) {
                                     if (speaks)
                                       std::fprintf(stderr, "  %s %s r=%.2f repeat %d: top-1 error %.2f%%\n",
                                                    r.layer.c_str(), r.order.c_str(), r.ratio, r.repeat,
                                                    100 * r.top1_error);
                                   });
            }();
            stop_if_interrupted(control);
            if (!speaks) return 0;
            write_pruning_csv(f->out, rows);
            nlohmann::json points = nlohmann::json::array();
            for (double ratio : f->ratios) {
              double sum = 0, sq = 0;
              int n = 0;
              for (const auto& r : rows)
                if (r.ratio == ratio) sum += r.top1_error, sq += r.top1_error * r.top1_error, ++n;
              if (n == 0) continue;
              const double mean = sum / n;
              points.push_back({{"ratio", ratio}, {"top1_error", mean},
                                {"top1_std", n > 1 ? std::sqrt(std::max(0.0, sq / n - mean * mean)) : 0.0}});
            }
            emit(f->common, {{"csv", f->out}, {"layer", po.label}, {"order", po.order}, {"points", points}},
                 "wrote " + f->out + "\n");
            return 0;
          }};
}

}  // namespace gex::cli
