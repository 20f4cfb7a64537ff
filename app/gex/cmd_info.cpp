// gex info MODEL-FLAGS: parameters, MACs and the attention modules of a model.
#include <torch/torch.h>

#include <memory>
#include <sstream>

#include "gex/cli_support.h"
#include "models/registry.h"

namespace gex::cli {

Command add_info_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
  };
  auto flags = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("info", "Parameters, multiply-accumulates and gate layers of a model");
  add_model_flags(app, flags->model);
  add_common_flags(app, flags->common);
  return {app, [flags]() {
            apply_threads(flags->common);
            const ModelSpec spec = to_spec(flags->model);
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
            emit(flags->common, result, human.str());
            return 0;
          }};
}

}  // namespace gex::cli
