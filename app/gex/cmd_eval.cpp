// gex eval --checkpoint CKPT --data DATA [--split test|train] [--limit N]: loss and errors.
#include <torch/torch.h>

#include <cstdio>
#include <memory>

#include "dist/data_parallel.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/job.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace gex::cli {

Command add_eval_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    DataFlags data;
    CheckpointRunFlags run;
    JobFlags job;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("eval", "Loss and top-1/top-5 error of a checkpoint on a data set");
  add_checkpoint_run_flags(app, f->data, f->run);
  add_job_flags(app, f->job);
  add_common_flags(app, f->common);
  return {app, [f, app]() {
            if (const auto launched = launch_workers_if_asked(f->job)) return *launched;
            const auto group = join_job(f->job, app, f->common);  // each rank evaluates its share
            apply_threads(f->common);
            auto ckpt = load_checkpoint(f->run.checkpoint);
            const Dataset data = load_for_checkpoint(f->data, ckpt.info, f->run, "gex eval", group.get());
            const auto device = device_of_rank(choose_device(f->run.device), group.get());  // its own GPU
            ckpt.net->to(device);
            to_channels_last(*ckpt.net);
            EvalOptions eo;
            eo.limit = f->run.limit;
            eo.batch = f->run.batch;
            eo.device = device;
            eo.shard = shard_of(group.get());
            eo.on_message = [](const std::string& m) { std::fprintf(stderr, "gex eval: %s\n", m.c_str()); };
            WorkControl control;
            eo.control = &control;
            if (speaks(group.get())) eo.progress = pass_progress("gex eval", "images");
            const auto& split = f->run.split == "train" ? data.train : data.test;
            const auto e = [&] {
              const CancelOnSignal on_signal(group ? nullptr : &control);
              return evaluate(*ckpt.net, split, BatchMaker(ckpt.info.preprocess, false), eo);
            }();
            stop_if_interrupted(control);
            nlohmann::json result = {{"loss", e.loss}, {"top1_error", e.top1_error}, {"top5_error", e.top5_error},
                                     {"images", e.images}};
            char human[256];
            std::snprintf(human, sizeof human, "%s on %s/%s: loss %.4f, top-1 error %.2f%%, top-5 error %.2f%% (%lld images)\n",
                          f->run.checkpoint.c_str(), f->data.data.c_str(), f->run.split.c_str(), e.loss, 100 * e.top1_error,
                          100 * e.top5_error, static_cast<long long>(e.images));
            if (speaks(group.get())) emit(f->common, result, human);
            return 0;
          }};
}

}  // namespace gex::cli
