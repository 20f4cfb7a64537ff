// gex import --from FILE --model NAME [attention flags] [--classes K] [--class-names FILE]
//            [--input-size S] [--stride-on 1x1|3x3] --out CKPT: pretrained weights into a checkpoint.
#include <memory>

#include "errors.h"
#include "gex/cli_support.h"
#include "train/import_weights.h"

namespace gex::cli {

Command add_import_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    std::optional<std::string> stride_on;
    std::string from, class_names, out;
    uint64_t seed = 0;
  };
  auto flags = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("import", "Import pretrained weights (torchvision, timm: safetensors or torch.save) "
                                           "into a checkpoint");
  app->add_option("--from", flags->from, "State dict: .safetensors, or .pth/.pt as torch.save writes it")->required();
  app->add_option("--model", flags->model.model, "Backbone the weights belong to (e.g. resnet50)")->required();
  app->add_option("--attention", flags->model.attention, "none|se|ge (default: se when the file has SE modules)");
  app->add_option("--variant", flags->model.variant, "GE variant: theta-minus|theta|theta-plus")->capture_default_str();
  app->add_option("--extent", flags->model.extent, "GE extent ratio: 2|4|8|global")->capture_default_str();
  app->add_option("--pool", flags->model.pool, "GE-θ⁻ gather pooling: avg|max")->capture_default_str();
  app->add_option("--stride-on", flags->stride_on,
                  "Bottleneck ResNets: where the file's network strides (default 3x3, as torchvision and timm)");
  app->add_option("--classes", flags->model.classes, "Classes of the new head (default: the file's)");
  app->add_option("--class-names", flags->class_names, "Class names, one per line (default: ImageNet's for 1000)");
  app->add_option("--input-size", flags->model.input_size, "Input height and width (default 224 for ImageNet backbones)");
  app->add_option("--seed", flags->seed, "Seed of the modules the file does not have")
      ->check(not_negative())->capture_default_str();
  app->add_option("--out", flags->out, "Checkpoint to write (.safetensors); never overwritten")->required();
  add_common_flags(app, flags->common);
  return {app, [flags, app]() {
            apply_threads(flags->common);
            refuse_existing_checkpoint(flags->out);
            ImportOptions options;
            options.from = flags->from;
            options.model = to_spec(flags->model);  // validates the attention flags
            options.attention_given = app->count("--attention") > 0;
            if (flags->stride_on) {
              options.stride_on = parse_stride_on(*flags->stride_on);
              if (!options.stride_on) throw UsageError("--stride-on must be 1x1 or 3x3, not '" + *flags->stride_on + "'");
            }
            options.classes = flags->model.classes;
            options.input_size = flags->model.input_size;
            options.class_names_file = flags->class_names;
            options.seed = flags->seed;
            const ImportedModel imported = import_weights(options);
            save_checkpoint(flags->out, *imported.net, imported.info);
            const ImportReport& r = imported.report;
            const ModelSpec& spec = imported.info.model;
            nlohmann::json result = {{"checkpoint", flags->out},
                                     {"from", flags->from},
                                     {"model", nlohmann::json::parse(spec.to_json())},
                                     {"loaded", r.loaded},
                                     {"initialised", r.initialised},
                                     {"reinitialised_head", r.reinitialised_head},
                                     {"ignored", r.ignored},
                                     {"params", r.complexity.params},
                                     {"macs", r.complexity.macs}};
            std::string human = "imported " + flags->from + " as " + spec.describe() + ": " +
                                std::to_string(r.loaded.size()) + " tensors loaded";
            if (!r.initialised.empty()) human += ", " + std::to_string(r.initialised.size()) + " initialised";
            if (r.reinitialised_head)
              human += ", head re-initialised (" + std::to_string(r.file_classes) + " → " +
                       std::to_string(spec.num_classes) + " classes)";
            human += "; " + si(double(r.complexity.params)) + " parameters, " + si(double(r.complexity.macs)) +
                     "MACs → " + flags->out + "\n";
            emit(flags->common, result, human);
            return 0;
          }};
}

}  // namespace gex::cli
