// gex probe --run RUN [--every STEPS|epoch]: the probes of a run's kept checkpoints, computed
// afterwards (a run trained with --no-probes, or before probes existed) as training records them.
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <set>

#include "analysis/probe.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/run_lock.h"
#include "train/trainer.h"

namespace gex::cli {

namespace fs = std::filesystem;

namespace {

// The run's checkpoints by step: a kept step-N file where there is one, else `last` or `best`.
std::map<int64_t, std::string> kept_checkpoints(const RunDirectory& run) {
  std::map<int64_t, std::string> by_step;
  const fs::path dir = fs::path(run.path()) / "checkpoints";
  std::error_code ec;
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ".safetensors") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    const int64_t step = read_checkpoint_info(file).step;
    const bool kept = fs::path(file).filename().string().rfind("step-", 0) == 0;
    if (kept || !by_step.count(step)) by_step[step] = file;
  }
  return by_step;
}

double wall_seconds_of(const CheckpointInfo& info) {
  try {
    return nlohmann::json::parse(info.metrics).value("wall_seconds", 0.0);
  } catch (const nlohmann::json::exception&) {
    return 0.0;
  }
}

}  // namespace

Command add_probe_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    std::string run, every, device = "auto";
    TrainConfig asked;  // the probe flags given (others come from the run)
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("probe", "Probes of a run's kept checkpoints, computed afterwards");
  app->add_option("--run", f->run, "Run directory")->required();
  app->add_option("--every", f->every, "Only the checkpoints at multiples of N steps, or at epoch ends")
      ->type_name("STEPS|epoch");
  app->add_option("--device", f->device, "auto|cpu|cuda|cuda:K")->capture_default_str();
  add_probe_flags(app, f->asked);
  app->remove_option(app->get_option("--probe-every"));
  app->remove_option(app->get_option("--no-probes"));
  app->remove_option(app->get_option("--keep-checkpoints"));
  add_common_flags(app, f->common);
  return {app, [f, app]() {
            apply_threads(f->common);
            const RunDirectory run = RunDirectory::open(f->run);
            const RunLock lock(f->run);  // the run's probes/ and index.csv: not while it still trains
            TrainConfig config = run.config();
            if (app->count("--probe-images") > 0) config.probe_images = f->asked.probe_images;
            if (app->count("--probe-limit") > 0) config.probe_limit = f->asked.probe_limit;
            if (app->count("--probe-prune") > 0) config.probe_prune = f->asked.probe_prune;
            int64_t every = 0;  // 0: every kept checkpoint; -1: epoch ends
            if (f->every == "epoch") every = -1;
            else if (!f->every.empty()) {
              try {
                size_t used = 0;
                every = std::stoll(f->every, &used);
                if (used != f->every.size()) every = 0;
              } catch (const std::exception&) {
              }
              if (every < 1) throw UsageError("--every must be a number of steps (≥ 1) or 'epoch'");
            }
            // A block the network lacks is said before anything is read, whether or not a probe is computed.
            if (app->count("--probe-prune") > 0) check_prune_layer(*build_network(config.model), config.probe_prune);
            const auto checkpoints = kept_checkpoints(run);
            if (checkpoints.empty()) throw InputError(f->run, "the run has no checkpoints to probe");
            const auto say = [](const std::string& m) { std::fprintf(stderr, "gex probe: %s\n", m.c_str()); };
            // As its checkpoints are measured everywhere: the run's held-out files, by its class names.
            DataOptions options = checkpoint_data_options(read_checkpoint_info(checkpoints.begin()->second), say);
            options.cache_mb = config.cache_mb;
            options.loader_threads = config.loader_threads;
            const Dataset data = load_dataset(config.data, options);
            if (const auto note = other_files_note(f->run, config.data, run.data_identity(), data); !note.empty()) say(note);
            const int64_t epoch_steps = steps_per_epoch(data.train.size(), config.batch);
            const int64_t total = planned_steps(config, data.train.size());
            std::set<int64_t> probed;
            for (const auto& r : read_probe_index(run.path()))
              if (fs::is_directory(fs::path(run.path()) / "probes" / r.dir)) probed.insert(r.step);
            const torch::Device device = choose_device(f->device);
            ProbeSettings settings;
            settings.images = config.probe_images;
            settings.limit = config.probe_limit;
            settings.prune_layer = config.probe_prune;
            WorkControl control;
            install_signal_handlers(&control);
            std::vector<ProbeImage> images;  // read once: every checkpoint of the run feeds them alike
            nlohmann::json written = nlohmann::json::array(), skipped = nlohmann::json::array();
            std::string human;
            for (const auto& [step, file] : checkpoints) {
              const bool wanted = every == 0 || (every > 0 && step % every == 0) ||
                                  (every < 0 && (step % epoch_steps == 0 || step == total));
              if (!wanted) continue;
              if (probed.count(step)) {  // never recomputed over what is there
                skipped.push_back(step);
                continue;
              }
              if (control.cancelled()) break;
              auto ckpt = load_checkpoint(file);
              if (!(ckpt.info.model == config.model))
                throw InputError(file, "its model differs from the run's run.json");
              ckpt.net->to(device);
              to_channels_last(*ckpt.net);
              if (images.empty()) images = probe_images(data.test, ckpt.info.preprocess, settings.images, say);
              const ProbeRecord r =
                  record_probe(*ckpt.net, ckpt.info.preprocess, data.test, images, settings, run.path(), step,
                               double(step) / double(epoch_steps), wall_seconds_of(ckpt.info), true);
              written.push_back({{"step", step}, {"checkpoint", file}, {"dir", r.dir}, {"top1_error", r.top1_error},
                                 {"images", r.images}});
              char line[512];
              std::snprintf(line, sizeof line, "step %lld (%s) → probes/%s: top-1 error %.2f%% on %lld images\n",
                            static_cast<long long>(step), fs::path(file).filename().c_str(), r.dir.c_str(),
                            100 * r.top1_error, static_cast<long long>(r.images));
              human += line;
              if (f->common.json) std::fputs(line, stderr);  // progress; the summary is on stdout otherwise
            }
            install_signal_handlers(nullptr);
            if (!skipped.empty()) human += std::to_string(skipped.size()) + " step(s) already probed, kept as they are\n";
            emit(f->common, {{"run", run.path()}, {"probes", written}, {"already_probed", skipped},
                             {"index", (fs::path(run.path()) / "probes" / "index.csv").string()}},
                 human);
            return control.cancelled() ? static_cast<int>(kExitInterrupted) : static_cast<int>(kExitOk);
          }};
}

}  // namespace gex::cli
