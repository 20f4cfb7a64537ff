// gex info MODEL-FLAGS | --checkpoint CKPT: parameters, MACs and the attention modules of a model;
// of a checkpoint also what it was trained to (step, evaluation, data, classes, normalisation).
#include <torch/torch.h>

#include <memory>
#include <sstream>

#include "gex/cli_support.h"
#include "models/registry.h"
#include "train/checkpoint.h"

namespace gex::cli {

namespace {

std::string joined(const std::vector<double>& values) {
  std::ostringstream out;
  out.precision(4);
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  return out.str();
}

// The checkpoint's own part of `gex info --checkpoint`: JSON under "checkpoint", lines for people.
nlohmann::json describe_checkpoint(const std::string& path, const CheckpointInfo& info, std::ostringstream& human) {
  const auto metrics = metadata_json(info.metrics);
  const auto trainer = metadata_json(info.trainer);
  const auto& pre = info.preprocess;
  human << "  checkpoint         step " << info.step << ", epoch " << info.epoch << "\n";
  // The evaluation the checkpoint was saved after (a best checkpoint's is its best).
  const auto val = metrics.is_object() && metrics.contains("val") ? metrics["val"] : nlohmann::json();
  if (val.is_object() && val.contains("top1_error") && val["top1_error"].is_number())
    human << "  validation         top-1 error " << percent(val["top1_error"].get<double>()) << " %"
          << (val.contains("top5_error") && val["top5_error"].is_number()
                  ? ", top-5 " + percent(val["top5_error"].get<double>()) + " %"
                  : "")
          << (val.contains("images") ? " (" + val["images"].dump() + " images)" : "") << "\n";
  else
    human << "  validation         none recorded (initialised or imported)\n";
  if (trainer.is_object() && trainer.contains("data") && trainer["data"].is_string())
    human << "  trained on         " << trainer["data"].get<std::string>()
          << (trainer.contains("seed") ? ", seed " + trainer["seed"].dump() : "") << "\n";
  human << "  classes            " << pre.class_names.size();
  for (size_t i = 0; i < pre.class_names.size() && i < 5; ++i) human << (i ? ", " : ": ") << pre.class_names[i];
  human << (pre.class_names.size() > 5 ? ", …" : "") << "\n";
  human << "  normalisation      mean " << joined(pre.mean) << "; std " << joined(pre.std) << "\n";
  return {{"path", path},
          {"step", info.step},
          {"epoch", info.epoch},
          {"preprocess", nlohmann::json::parse(pre.to_json())},
          {"metrics", metrics},
          {"trainer", trainer}};
}

}  // namespace

Command add_info_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    std::string checkpoint;
  };
  auto flags = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("info", "Parameters, multiply-accumulates and gate layers of a model or checkpoint");
  add_model_flags(app, flags->model);
  auto* checkpoint = app->add_option("--checkpoint", flags->checkpoint,
                                     "A checkpoint (.safetensors): its model, and what it was trained to (its header "
                                     "alone is read)");
  for (const char* name : {"--model", "--attention", "--variant", "--extent", "--pool", "--stride-on", "--classes",
                           "--in-channels", "--input-size"})
    checkpoint->excludes(app->get_option(name));
  add_common_flags(app, flags->common);
  return {app, [flags, checkpoint]() {
            apply_threads(flags->common);
            const bool of_checkpoint = checkpoint->count() > 0;
            const CheckpointInfo info = of_checkpoint ? read_checkpoint_info(flags->checkpoint) : CheckpointInfo{};
            const ModelSpec spec = of_checkpoint ? info.model : to_spec(flags->model);
            auto net = build_network(spec);
            const auto complexity = measure_complexity(*net);
            nlohmann::json gate_layers = nlohmann::json::array();
            for (const auto& [path, attn] : net->attention_modules()) gate_layers.push_back(path);
            nlohmann::json result = {{"params", complexity.params},
                                     {"macs", complexity.macs},
                                     {"attention_modules", gate_layers.size()},
                                     {"gate_layers", gate_layers},
                                     {"model", nlohmann::json::parse(spec.to_json())}};
            std::ostringstream human;
            human << spec.describe() << ", " << spec.in_channels << "×" << spec.input_size << "×"
                  << spec.input_size << " input, " << spec.num_classes << " classes\n"
                  << "  parameters         " << si(complexity.params) << " (" << complexity.params
                  << ")\n"
                  << "  multiply-adds      " << si(complexity.macs) << " (" << complexity.macs
                  << ") per image\n"
                  << "  attention modules  " << gate_layers.size() << "\n";
            if (of_checkpoint) result["checkpoint"] = describe_checkpoint(flags->checkpoint, info, human);
            emit(flags->common, result, human.str());
            return 0;
          }};
}

}  // namespace gex::cli
