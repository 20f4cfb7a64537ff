// gex eval --checkpoint CKPT --data DATA [--split test|train] [--limit N]: loss and errors.
#include <torch/torch.h>

#include <cstdio>
#include <memory>

#include "errors.h"
#include "gex/cli_support.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/trainer.h"

namespace gex::cli {

Command add_eval_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    DataFlags data;
    std::string checkpoint, split = "test", device = "auto";
    int64_t limit = 0, batch = 256;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("eval", "Loss and top-1/top-5 error of a checkpoint on a data set");
  app->add_option("--checkpoint", f->checkpoint, "Checkpoint (.safetensors)")->required();
  add_data_flags(app, f->data);
  app->add_option("--split", f->split, "test|train")->check(CLI::IsMember({"test", "train"}))->capture_default_str();
  app->add_option("--limit", f->limit, "Only the first N images of the split, in file order");
  app->add_option("--batch", f->batch, "Images per forward pass")->capture_default_str()->check(CLI::Range(1, 65536));
  app->add_option("--device", f->device, "auto|cpu|cuda")->capture_default_str();
  add_common_flags(app, f->common);
  return {app, [f]() {
            apply_threads(f->common);
            auto ckpt = load_checkpoint(f->checkpoint);
            const Dataset data = load_for_checkpoint(f->data, ckpt.info.model, f->checkpoint, "gex eval");
            const auto device = choose_device(f->device);
            ckpt.net->to(device);
            to_channels_last(*ckpt.net);
            EvalOptions eo;
            eo.limit = f->limit;
            eo.batch = f->batch;
            eo.device = device;
            const auto& split = f->split == "train" ? data.train : data.test;
            const auto e = evaluate(*ckpt.net, split, BatchMaker(ckpt.info.preprocess, false), eo);
            nlohmann::json result = {{"loss", e.loss}, {"top1_error", e.top1_error}, {"top5_error", e.top5_error},
                                     {"images", e.images}};
            char human[256];
            std::snprintf(human, sizeof human, "%s on %s/%s: loss %.4f, top-1 error %.2f%%, top-5 error %.2f%% (%lld images)\n",
                          f->checkpoint.c_str(), f->data.data.c_str(), f->split.c_str(), e.loss, 100 * e.top1_error,
                          100 * e.top5_error, static_cast<long long>(e.images));
            emit(f->common, result, human);
            return 0;
          }};
}

}  // namespace gex::cli
