// gex init MODEL-FLAGS [--seed N] --out CKPT: a freshly initialised checkpoint.
#include <torch/torch.h>

#include <memory>

#include "gex/cli_support.h"
#include "models/registry.h"
#include "train/checkpoint.h"

namespace gex::cli {

Command add_init_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    uint64_t seed = 0;
    std::string out;
  };
  auto flags = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("init", "Write a freshly initialised checkpoint");
  add_model_flags(app, flags->model);
  app->add_option("--seed", flags->seed, "Random seed of the initialisation")
      ->check(not_negative())->capture_default_str();
  app->add_option("--out", flags->out, "Checkpoint to write (.safetensors); never overwritten")->required();
  add_common_flags(app, flags->common);
  return {app, [flags]() {
            apply_threads(flags->common);
            const ModelSpec spec = to_spec(flags->model);
            refuse_existing_checkpoint(flags->out);
            torch::manual_seed(flags->seed);
            auto net = build_network(spec);
            CheckpointInfo info;
            info.model = spec;
            info.preprocess = Preprocess::identity(spec.in_channels, spec.input_size, spec.num_classes);
            save_checkpoint(flags->out, *net, info);
            const auto complexity = measure_complexity(*net);
            nlohmann::json result = {{"checkpoint", flags->out},
                                     {"params", complexity.params},
                                     {"seed", flags->seed},
                                     {"model", nlohmann::json::parse(spec.to_json())}};
            emit(flags->common, result,
                 "wrote " + flags->out + ": " + spec.describe() + ", " + si(complexity.params) +
                     " parameters, seed " + std::to_string(flags->seed) + "\n");
            return 0;
          }};
}

}  // namespace gex::cli
