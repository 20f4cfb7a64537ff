// gex selectivity --checkpoint CKPT --data DATA --out CSV [--limit N]: the class selectivity
// index of every channel of every residual block, and a per-layer summary.
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "analysis/selectivity.h"
#include "analysis/statistics.h"
#include "dist/data_parallel.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/job.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace gex::cli {

Command add_selectivity_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    DataFlags data;
    CheckpointRunFlags run;
    std::string out;
    JobFlags job;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("selectivity", "Class selectivity index of every unit of every block");
  add_checkpoint_run_flags(app, f->data, f->run);
  app->add_option("--out", f->out, "CSV to write: layer,unit,csi,max_class,mean_activation")->required();
  add_job_flags(app, f->job);
  add_common_flags(app, f->common);
  return {app, [f, app]() {
            if (will_write_results()) check_new_output("--out", f->out, Output::File);
            if (const auto launched = launch_workers_if_asked(f->job)) return *launched;
            const auto group = join_job(f->job, app, f->common);  // each rank passes over its share
            apply_threads(f->common);
            auto ckpt = load_checkpoint(f->run.checkpoint);
            const Dataset data = load_for_checkpoint(f->data, ckpt.info, f->run, "gex selectivity", group.get());
            SelectivityOptions so;
            so.limit = f->run.limit;
            so.batch = f->run.batch;
            so.device = device_of_rank(choose_device(f->run.device), group.get());
            so.shard = shard_of(group.get());
            so.on_message = [](const std::string& m) { std::fprintf(stderr, "gex selectivity: %s\n", m.c_str()); };
            ckpt.net->to(so.device);
            to_channels_last(*ckpt.net);
            WorkControl control;
            so.control = &control;
            if (speaks(group.get())) so.progress = pass_progress("gex selectivity", "images");
            const auto result = [&] {
              const CancelOnSignal on_signal(group ? nullptr : &control);
              return class_selectivity(*ckpt.net, f->run.split == "train" ? data.train : data.test,
                                       ckpt.info.preprocess, so);
            }();
            stop_if_interrupted(control);
            if (!speaks(group.get())) return 0;
            write_selectivity_csv(f->out, result);
            nlohmann::json layers = nlohmann::json::array();
            std::string human = "class selectivity over " + std::to_string(result.images) + " images → " + f->out +
                                "\n  layer        units   mean  median     q1     q3\n";
            for (const auto& layer : result.layers) {
              std::vector<double> v;
              for (const auto& u : result.units)
                if (u.layer == layer) v.push_back(u.csi);
              double mean = 0;
              for (double x : v) mean += x;
              mean /= std::max<size_t>(1, v.size());
              layers.push_back({{"layer", layer}, {"units", v.size()}, {"mean", mean}, {"median", quantile(v, 0.5)},
                                {"q1", quantile(v, 0.25)}, {"q3", quantile(v, 0.75)}});
              char line[160];
              std::snprintf(line, sizeof line, "  %-12s %5zu  %.3f   %.3f  %.3f  %.3f\n", layer.c_str(), v.size(), mean,
                            quantile(v, 0.5), quantile(v, 0.25), quantile(v, 0.75));
              human += line;
            }
            emit(f->common, {{"csv", f->out}, {"images", result.images}, {"layers", layers}}, human);
            return 0;
          }};
}

}  // namespace gex::cli
