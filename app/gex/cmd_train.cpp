// gex train MODEL-FLAGS --data DATA [...] --out RUN | --resume RUN: a training run (DESIGN §3-4).
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <memory>

#include "errors.h"
#include "gex/cli_support.h"
#include "train/trainer.h"

namespace gex::cli {

namespace {

TrainControl* g_control = nullptr;

// SIGINT/SIGTERM ask the trainer to stop between batches and save `last`; a second one kills.
void on_signal(int sig) {
  if (g_control) g_control->cancel.store(true);
  std::signal(sig, SIG_DFL);
}

std::string duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char text[32];
  if (s >= 3600) std::snprintf(text, sizeof text, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  else if (s >= 60) std::snprintf(text, sizeof text, "%ldm%02lds", s / 60, s % 60);
  else std::snprintf(text, sizeof text, "%lds", s);
  return text;
}

nlohmann::json eval_json(const std::optional<EvalReport>& r) {
  if (!r) return nullptr;
  return {{"step", r->step}, {"epoch", r->epoch}, {"loss", r->eval.loss}, {"top1_error", r->eval.top1_error},
          {"top5_error", r->eval.top5_error}};
}

}  // namespace

Command add_train_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    DataFlags data;
    TrainConfig config;
    std::optional<int64_t> epochs, steps;
    std::string out, resume;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("train", "Train a model; a run directory that resumes exactly");
  add_model_flags(app, f->model);
  add_data_flags(app, f->data);
  app->add_option("--epochs", f->epochs, "Length of the run in epochs (default 10)");
  app->add_option("--steps", f->steps, "Length of the run in steps (instead of --epochs)");
  app->add_option("--batch", f->config.batch, "Batch size")->capture_default_str();
  app->add_option("--lr", f->config.lr, "Base learning rate")->capture_default_str();
  app->add_option("--schedule", f->config.schedule, "multistep|cosine|constant")->capture_default_str();
  app->add_option("--milestones", f->config.milestones, "multistep: fractions of the run where lr ×gamma")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--gamma", f->config.gamma, "multistep factor")->capture_default_str();
  app->add_option("--warmup", f->config.warmup_steps, "Linear warm-up steps")->capture_default_str();
  app->add_option("--momentum", f->config.momentum, "SGD momentum")->capture_default_str();
  app->add_flag("--nesterov", f->config.nesterov, "Nesterov momentum");
  app->add_option("--weight-decay", f->config.weight_decay, "L2 weight decay")->capture_default_str();
  app->add_option("--seed", f->config.seed, "Seed of the initialisation, data order and augmentation")
      ->capture_default_str();
  app->add_option("--device", f->config.device, "auto|cpu|cuda")->capture_default_str();
  app->add_option("--augment", f->config.augment, "auto|on|off: pad-and-crop and flip")->capture_default_str();
  app->add_option("--amp", f->config.amp, "auto|on|off: bf16 mixed precision (CUDA only)")->capture_default_str();
  app->add_option("--checkpoint-every", f->config.checkpoint_every, "Also save `last` every N steps");
  app->add_option("--eval-every", f->config.eval_every, "Evaluate every N steps (default: every epoch)");
  app->add_option("--eval-limit", f->config.eval_limit, "Evaluate on the first N test images only");
  app->add_option("--log-every", f->config.log_every, "Steps between training rows in metrics.csv")
      ->capture_default_str();
  auto* out = app->add_option("--out", f->out, "New run directory");
  auto* resume_flag = app->add_option("--resume", f->resume, "Continue this run from its last checkpoint");
  out->excludes(resume_flag);
  add_common_flags(app, f->common);

  return {app, [f, app]() {
            apply_threads(f->common);
            if (f->out.empty() && f->resume.empty()) throw UsageError("give --out RUN for a new run or --resume RUN");
            if (f->epochs && f->steps) throw UsageError("give --epochs or --steps, not both");
            TrainControl control;
            g_control = &control;
            std::signal(SIGINT, on_signal);
            std::signal(SIGTERM, on_signal);

            const bool tty = ::isatty(STDERR_FILENO);
            auto last_line = std::chrono::steady_clock::now() - std::chrono::hours(1);
            TrainCallbacks callbacks;
            callbacks.on_message = [](const std::string& m) { std::fprintf(stderr, "gex train: %s\n", m.c_str()); };
            callbacks.on_progress = [&](const TrainProgress& p) {
              const auto now = std::chrono::steady_clock::now();
              if (!tty && now - last_line < std::chrono::seconds(5) && p.step != p.total_steps) return;
              last_line = now;
              std::fprintf(stderr, "%sepoch %.2f  step %lld/%lld  loss %.4f  top-1 %.2f%%  lr %.4g  %.0f img/s  ETA %s%s",
                           tty ? "\r\033[K" : "", p.epoch, static_cast<long long>(p.step),
                           static_cast<long long>(p.total_steps), p.loss, 100 * p.top1_error, p.lr,
                           p.images_per_second, duration(p.eta_seconds).c_str(), tty ? "" : "\n");
              std::fflush(stderr);
            };
            callbacks.on_eval = [&](const EvalReport& r) {
              std::fprintf(stderr, "%sval   epoch %.2f  step %lld  loss %.4f  top-1 error %.2f%%  top-5 error %.2f%%%s\n",
                           tty ? "\r\033[K" : "", r.epoch, static_cast<long long>(r.step), r.eval.loss,
                           100 * r.eval.top1_error, 100 * r.eval.top5_error, r.is_best ? "  (best)" : "");
            };

            TrainSummary summary;
            if (!f->resume.empty()) {
              for (const char* flag : {"--model", "--attention", "--variant", "--extent", "--pool", "--classes",
                                       "--in-channels", "--input-size", "--data", "--batch", "--lr", "--seed"})
                if (app->count(flag) > 0)
                  throw UsageError(std::string(flag) + " cannot change a run on --resume (only --steps/--epochs)");
              summary = resume(f->resume, f->steps, f->epochs, callbacks, control);
            } else {
              DataOptions options;
              options.input_size = f->model.input_size.value_or(0);
              options.seed = f->config.seed;
              options.warn = callbacks.on_message;
              if (f->model.input_size) options.synthetic_size = *f->model.input_size;
              if (f->model.in_channels) options.synthetic_channels = *f->model.in_channels;
              const Dataset data = load_dataset(f->data.data, options);
              f->config.model = to_spec(f->model, &data);
              f->config.data = f->data.data;
              f->config.threads = f->common.threads;
              if (f->steps) f->config.steps = *f->steps;
              f->config.epochs = f->epochs.value_or(f->steps ? 0 : 10);
              f->config.validate();
              std::fprintf(stderr, "gex train: %s on %s (%lld train / %lld test images) → %s\n",
                           f->config.model.describe().c_str(), f->data.data.c_str(),
                           static_cast<long long>(data.train.size()), static_cast<long long>(data.test.size()),
                           f->out.c_str());
              summary = train(f->out, f->config, callbacks, control, &data);
            }
            g_control = nullptr;
            if (tty) std::fprintf(stderr, "\n");
            nlohmann::json result = {{"images_per_second", summary.images_per_second},
                                     {"best", eval_json(summary.best)},
                                     {"final", eval_json(summary.final)},
                                     {"run", summary.run},
                                     {"step", summary.step},
                                     {"device", summary.device},
                                     {"interrupted", summary.cancelled}};
            std::string human = summary.cancelled ? "interrupted at step " + std::to_string(summary.step) +
                                                        "; resume with: gex train --resume " + summary.run + "\n"
                                                  : "finished " + summary.run + "\n";
            if (summary.best)
              human += "best top-1 error " + std::to_string(100 * summary.best->eval.top1_error).substr(0, 5) +
                       "% at step " + std::to_string(summary.best->step) + "\n";
            emit(f->common, result, human);
            return summary.cancelled ? kExitInterrupted : kExitOk;
          }};
}

}  // namespace gex::cli
