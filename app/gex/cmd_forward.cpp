// gex forward --checkpoint CKPT --input X.npy --out LOGITS.npy [--gates DIR]: eval-mode logits,
// and with --gates the gate of every attention module as DIR/<module path>.npy.
#include <torch/torch.h>

#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "errors.h"
#include "gex/cli_support.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "train/checkpoint.h"

namespace gex::cli {

namespace {
// Images per forward pass: bounds memory for large inputs without slowing small ones.
constexpr int64_t kChunk = 64;
}

Command add_forward_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    std::string checkpoint, input, out, gates;
  };
  auto flags = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("forward", "Logits (and gates) of a checkpoint on an N×C×H×W .npy");
  app->add_option("--checkpoint", flags->checkpoint, "Checkpoint (.safetensors)")->required();
  app->add_option("--input", flags->input, "Input tensor: float32 (or float64) .npy, N×C×H×W, preprocessed")
      ->required();
  app->add_option("--out", flags->out, "Logits to write: float32 .npy, N×K")->required();
  app->add_option("--gates", flags->gates, "Directory for one <module path>.npy gate per attention module");
  add_common_flags(app, flags->common);
  return {app, [flags]() {
            check_new_output("--out", flags->out, Output::File);
            if (!flags->gates.empty()) check_new_output("--gates", flags->gates, Output::Directory, "gate maps");
            apply_threads(flags->common);
            auto ckpt = load_checkpoint(flags->checkpoint);
            auto x = read_npy(flags->input);
            // float64 is NumPy's default: taken and rounded to float32, as torch.from_numpy(x).float().
            if (x.scalar_type() == torch::kFloat64) x = x.to(torch::kFloat32);
            if (x.scalar_type() != torch::kFloat32)
              throw InputError(flags->input, "expected float32 (<f4) or float64 (<f8) data, got " +
                                                 npy_descr(x.scalar_type()));
            ckpt.net->check_input(x, flags->input);
            if (!torch::isfinite(x).all().item<bool>())
              throw InputError(flags->input, "the input holds NaN or infinite values");

            const bool want_gates = !flags->gates.empty();
            auto& net = *ckpt.net;
            net.eval();
            to_channels_last(net);
            net.set_gate_capture(want_gates);
            torch::NoGradGuard no_grad;
            std::vector<torch::Tensor> logits;
            std::map<std::string, std::vector<torch::Tensor>> gates;
            for (int64_t begin = 0; begin < x.size(0); begin += kChunk) {
              auto chunk = x.slice(0, begin, std::min(x.size(0), begin + kChunk))
                               .contiguous(torch::MemoryFormat::ChannelsLast);
              logits.push_back(net.forward(chunk));
              if (want_gates)
                for (const auto& [path, attn] : net.attention_modules())
                  gates[path].push_back(attn->last_gate().contiguous());
            }
            auto all = torch::cat(logits).contiguous();
            write_npy(flags->out, all);

            nlohmann::json gate_files = nlohmann::json::object();
            if (want_gates) {
              make_directories(flags->gates);
              for (auto& [path, parts] : gates) {
                const auto file = (std::filesystem::path(flags->gates) / (path + ".npy")).string();
                write_npy(file, torch::cat(parts));
                gate_files[path] = file;
              }
            }
            auto predicted = all.argmax(1);
            nlohmann::json classes = nlohmann::json::array();
            for (int64_t i = 0; i < predicted.size(0); ++i) {
              const auto k = predicted[i].item<int64_t>();
              const auto& names = ckpt.info.preprocess.class_names;
              classes.push_back(k < int64_t(names.size()) ? names[k] : std::to_string(k));
            }
            nlohmann::json result = {{"logits", flags->out},
                                     {"shape", all.sizes().vec()},
                                     {"predicted", classes},
                                     {"gates", gate_files}};
            std::ostringstream human;
            human << "wrote " << flags->out << " (" << all.size(0) << "×" << all.size(1)
                  << " logits)";
            if (want_gates) human << " and " << gate_files.size() << " gate maps in " << flags->gates;
            human << "\n";
            emit(flags->common, result, human.str());
            return 0;
          }};
}

}  // namespace gex::cli
