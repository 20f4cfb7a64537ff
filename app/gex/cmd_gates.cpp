// gex gates --checkpoint CKPT --image IMG... --out DIR: gate maps of every attention module on
// the user's images (input.npy, gates/*.npy, overlays/*.png, predictions.json).
#include <torch/torch.h>

#include <cstdio>
#include <memory>

#include "analysis/gate_maps.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "io/image.h"
#include "train/device.h"

namespace gex::cli {

Command add_gates_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    std::string checkpoint, out, colormap = "viridis", scale = "fixed", device = "cpu";
    std::vector<std::string> images;
    std::vector<int> channels;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("gates", "Gate maps of every attention module on image files");
  app->add_option("--checkpoint", f->checkpoint, "Checkpoint (.safetensors)")->required();
  app->add_option("--image", f->images, "Image files (any format OpenCV reads), or folders of them")->required();
  app->add_option("--out", f->out, "Output directory")->required();
  app->add_option("--colormap", f->colormap, "viridis|magma|inferno|plasma|jet|gray")->capture_default_str();
  app->add_option("--scale", f->scale, "fixed ([0,1], gates are sigmoids) | per-map (min–max)")
      ->check(CLI::IsMember({"fixed", "per-map"}))
      ->capture_default_str();
  app->add_option("--channels", f->channels, "Also overlay these channels")->delimiter(',');
  app->add_option("--device", f->device, "cpu|auto|cuda|cuda:K: where the forward passes run")->capture_default_str();
  add_common_flags(app, f->common);
  return {app, [f]() {
            check_new_output("--out", f->out, Output::Directory, "gate maps");
            apply_threads(f->common);
            if (!is_known_colormap(f->colormap))
              throw UsageError("--colormap must be viridis, magma, inferno, plasma, jet or gray");
            f->images = image_files(f->images);  // a folder given: its images, in name order
            const torch::Device device = choose_device(f->device);
            auto ckpt = load_checkpoint(f->checkpoint);
            ckpt.net->to(device);
            to_channels_last(*ckpt.net);  // the layout training and the other commands run in
            if (ckpt.net->attention_modules().empty())
              std::fprintf(stderr, "gex gates: %s has no attention modules; writing inputs and predictions only\n",
                           f->checkpoint.c_str());
            GateMapOptions options;
            options.colormap = f->colormap;
            options.per_map_scale = f->scale == "per-map";
            options.channels = f->channels;
            WorkControl control;  // SIGINT/SIGTERM: the images done so far are kept, and said
            options.control = &control;
            options.progress = [progress = pass_progress("gex gates", "images")](size_t done, size_t total) {
              progress(int64_t(done), int64_t(total));
            };
            const auto results = [&] {
              const CancelOnSignal on_signal(&control);
              return write_gate_maps(ckpt, f->images, f->out, options);
            }();
            int bad = 0;
            nlohmann::json images = nlohmann::json::array();
            std::string human;
            for (const auto& r : results) {
              if (!r.error.empty()) {
                ++bad;
                std::fprintf(stderr, "gex gates: skipped %s\n", r.error.c_str());
                images.push_back({{"file", r.file}, {"error", r.error}});
                continue;
              }
              nlohmann::json top5 = nlohmann::json::array();
              for (const auto& [name, p] : r.top5) top5.push_back({{"class", name}, {"probability", p}});
              images.push_back({{"file", r.file}, {"dir", f->out + "/" + r.stem}, {"top5", top5}});
              char line[256];
              std::snprintf(line, sizeof line, "%s → %s/%s: %s (%.1f%%)\n", r.file.c_str(), f->out.c_str(),
                            r.stem.c_str(), r.top5.empty() ? "?" : r.top5[0].first.c_str(),
                            r.top5.empty() ? 0.0 : 100 * r.top5[0].second);
              human += line;
            }
            const bool wrote = bad < int(results.size());  // nothing is written when no image could be read
            emit(f->common,
                 {{"images", images},
                  {"bad", bad},
                  {"predictions", wrote ? nlohmann::json(f->out + "/predictions.json") : nlohmann::json()}},
                 human);
            if (control.cancelled()) {
              std::fprintf(stderr, "gex gates: interrupted after %zu of %zu image(s)\n", results.size(), f->images.size());
              return kExitInterrupted;
            }
            return bad > 0 ? kExitBadInput : kExitOk;
          }};
}

}  // namespace gex::cli
