// gex train MODEL-FLAGS --data DATA [...] --out RUN | --resume RUN: a training run (DESIGN §3-4).
#include <torch/torch.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "dist/world.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/job.h"
#include "train/run_dir.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace gex::cli {

namespace {

WorkControl* g_control = nullptr;

// SIGINT/SIGTERM/SIGHUP ask the trainer to stop between batches and save `last`; a second one
// kills. SIGHUP too: a terminal or ssh session that closes must not lose the run since its last
// checkpoint.
void on_signal(int sig) {
  if (g_control) g_control->cancel();
  std::signal(sig, SIG_DFL);
}

// A progress line whose reader has gone (the application that started the run crashed or was
// killed, the pipe it went into closed; SIGPIPE is ignored, so the write fails with EPIPE):
// stop as on SIGTERM, saving `last`, rather than train on unseen and lose the run when it ends.
void stop_if_unread(int written) {
  if (written < 0 && errno == EPIPE && g_control) g_control->cancel();
}

nlohmann::json eval_json(const std::optional<EvalReport>& r) {
  if (!r) return nullptr;
  return {{"step", r->step}, {"epoch", r->epoch}, {"loss", r->eval.loss}, {"top1_error", r->eval.top1_error},
          {"top5_error", r->eval.top5_error}};
}

}  // namespace

// `--progress json`: one JSON object per line on stderr for a program that follows the run (the
// application does): {"progress": {...}} at most ten times a second and at the last step,
// {"eval": {...}} after each evaluation, {"message": "..."} for warnings. stdout stays `--json`'s.
TrainCallbacks json_callbacks() {
  auto last_line = std::make_shared<std::chrono::steady_clock::time_point>();
  const auto line = [](const nlohmann::json& j) { stop_if_unread(std::fprintf(stderr, "%s\n", j.dump().c_str())); };
  TrainCallbacks callbacks;
  callbacks.on_message = [line](const std::string& m) { line({{"message", m}}); };
  callbacks.on_progress = [line, last_line](const TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (now - *last_line < std::chrono::milliseconds(100) && p.step != p.total_steps) return;
    *last_line = now;
    line({{"progress",
           {{"step", p.step}, {"total_steps", p.total_steps}, {"epoch", p.epoch}, {"loss", p.loss},
            {"top1_error", p.top1_error}, {"lr", p.lr}, {"images_per_second", p.images_per_second},
            {"eta_seconds", p.eta_seconds}}}});
  };
  callbacks.on_eval = [line](const EvalReport& r) {
    nlohmann::json e = eval_json(r);
    e["is_best"] = r.is_best;
    line({{"eval", e}});
  };
  return callbacks;
}

// Whether SIGHUP was ignored when gex started (nohup), read before any shared library's
// initialisation: the executable's pre-initialisers run first, and a library may handle the signal
// on loading (LibTorch 2.6 as Debian trixie builds it does, through its Open MPI).
bool g_hangup_ignored_at_start = false;
void record_hangup_disposition(int, char**, char**) {
  struct sigaction now {};
  ::sigaction(SIGHUP, nullptr, &now);
  g_hangup_ignored_at_start = now.sa_handler == SIG_IGN;
}
__attribute__((section(".preinit_array"), used)) void (*const g_record_hangup)(int, char**, char**) =
    record_hangup_disposition;

void install_signal_handlers(WorkControl* control) {
  g_control = control;
  for (int sig : {SIGINT, SIGTERM}) std::signal(sig, control ? on_signal : SIG_DFL);
  // nohup's promise is kept: where SIGHUP was ignored when gex started, a hangup stops nothing.
  std::signal(SIGHUP, g_hangup_ignored_at_start ? SIG_IGN : control ? on_signal : SIG_DFL);
}

TrainCallbacks console_callbacks(const std::string& command) {
  const bool tty = ::isatty(STDERR_FILENO);
  auto last_line = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now() -
                                                                           std::chrono::hours(1));
  TrainCallbacks callbacks;
  callbacks.on_message = [command](const std::string& m) { std::fprintf(stderr, "%s: %s\n", command.c_str(), m.c_str()); };
  callbacks.on_progress = [tty, last_line](const TrainProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (!tty && now - *last_line < std::chrono::seconds(5) && p.step != p.total_steps) return;
    *last_line = now;
    stop_if_unread(std::fprintf(
        stderr, "%sepoch %.2f  step %lld/%lld  loss %.4f  top-1 error %.2f%%  lr %.4g  %.0f img/s  ETA %s%s",
        tty ? "\r\033[K" : "", p.epoch, static_cast<long long>(p.step), static_cast<long long>(p.total_steps), p.loss,
        100 * p.top1_error, p.lr, p.images_per_second, duration(p.eta_seconds).c_str(), tty ? "" : "\n"));
  };
  callbacks.on_eval = [tty](const EvalReport& r) {
    std::fprintf(stderr, "%sval   epoch %.2f  step %lld  loss %.4f  top-1 error %.2f%%  top-5 error %.2f%%%s\n",
                 tty ? "\r\033[K" : "", r.epoch, static_cast<long long>(r.step), r.eval.loss, 100 * r.eval.top1_error,
                 100 * r.eval.top5_error, r.is_best ? "  (best)" : "");
  };
  return callbacks;
}

void add_run_flags(CLI::App* app, RunFlags& flags) {
  app->add_option("--epochs", flags.epochs, "Length of the run in epochs (default 10)");
  app->add_option("--steps", flags.steps, "Length of the run in steps (instead of --epochs)");
  app->add_option("--batch", flags.config.batch, "Batch size")->capture_default_str();
  app->add_option("--lr", flags.config.lr, "Base learning rate")->capture_default_str();
  app->add_option("--schedule", flags.config.schedule, "multistep|cosine|constant")->capture_default_str();
  app->add_option("--milestones", flags.config.milestones, "multistep: fractions of the run where lr ×gamma")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--gamma", flags.config.gamma, "multistep factor")->capture_default_str();
  app->add_option("--warmup", flags.config.warmup_steps, "Linear warm-up steps")->capture_default_str();
  app->add_option("--momentum", flags.config.momentum, "SGD momentum")->capture_default_str();
  app->add_flag("--nesterov", flags.config.nesterov, "Nesterov momentum");
  app->add_option("--weight-decay", flags.config.weight_decay, "L2 weight decay")->capture_default_str();
  app->add_option("--seed", flags.config.seed, "Seed of the initialisation, data order and augmentation")
      ->check(not_negative())
      ->capture_default_str();
  app->add_option("--device", flags.config.device, "auto|cpu|cuda|cuda:K")->capture_default_str();
  app->add_option("--augment", flags.config.augment, "auto|on|off: pad-and-crop and flip")->capture_default_str();
  app->add_option("--amp", flags.config.amp, "auto|on|off: bf16 mixed precision (CUDA only)")->capture_default_str();
  app->add_option("--cuda-graph", flags.config.cuda_graph,
                  "auto|on|off: capture the training step once as a CUDA graph and replay it (CUDA only; auto: "
                  "wherever it can, with one process)")
      ->capture_default_str();
  app->add_option("--checkpoint-every", flags.config.checkpoint_every, "Also save `last` every N steps");
  app->add_option("--eval-every", flags.config.eval_every, "Evaluate every N steps (default: every epoch)");
  app->add_option("--eval-limit", flags.config.eval_limit, "Evaluate on the first N test images only");
  app->add_option("--log-every", flags.config.log_every, "Steps between training rows in metrics.csv")
      ->capture_default_str();
  app->add_option("--init-from", flags.config.init_from,
                  "Start from this checkpoint's weights (not its optimiser); backbone, stride, input size and "
                  "attention (without --attention) default to its");
  app->add_flag("--freeze-backbone", flags.config.freeze_backbone,
                "With --init-from: train only the attention modules and the head (BN statistics frozen too)");
  app->add_flag("--sync-bn", flags.config.sync_bn,
                "Data-parallel: BatchNorm statistics over all processes' shares (as SyncBatchNorm)");
  add_probe_flags(app, flags.config);
}

void add_probe_flags(CLI::App* app, TrainConfig& config) {
  app->add_option_function<std::string>(
         "--probe-every",
         [&config](const std::string& v) {
           if (v == "epoch") {
             config.probe_every = 0;
             return;
           }
           size_t used = 0;
           long long n = -1;
           try {
             n = std::stoll(v, &used);
           } catch (const std::exception&) {
           }
           if (used != v.size() || n < 1)
             throw CLI::ValidationError("--probe-every", "must be a number of steps (≥ 1) or 'epoch', not '" + v + "'");
           config.probe_every = n;
         },
         "Record a probe every N steps, or at every epoch's end (default: epoch; the last step always)")
      ->type_name("STEPS|epoch");
  app->add_option_function<std::vector<std::string>>(
         "--probe-images",
         [&config](const std::vector<std::string>& files) {
           for (const auto& f : files) config.probe_images.push_back(std::filesystem::absolute(f).string());
         },
         "Image files or folders probed beside the first test image of each class")
      ->type_name("FILES|DIR");
  app->add_option("--probe-limit", config.probe_limit, "A probe's selectivity over the first N test images")
      ->capture_default_str();
  app->add_option("--probe-prune", config.probe_prune,
                  "Each probe also records this block's pruning curve (csi-desc and random, 11 ratios)");
  app->add_flag_function("--no-probes", [&config](int64_t) { config.probes = false; }, "Record no probes");
  app->add_option("--keep-checkpoints", config.keep_checkpoints,
                  "probes|all|none: keep checkpoints/step-N for each probe, each checkpoint, or none")
      ->check(CLI::IsMember({"probes", "all", "none"}))
      ->capture_default_str();
}

void adopt_init_model(CLI::App* app, ModelFlags& model, const RunFlags& run) {
  if (run.config.init_from.empty()) return;
  const ModelSpec spec = read_checkpoint_info(run.config.init_from).model;
  if (app->count("--model") == 0) model.model = spec.backbone;
  if (app->count("--stride-on") == 0) model.stride_on = to_string(spec.stride_on);
  if (app->count("--input-size") == 0) model.input_size = spec.input_size;
  // Its attention modules too, unless --attention says otherwise: fine-tuning a GE checkpoint
  // without naming its variant again must not quietly train a baseline from its backbone.
  if (app->count("--attention") == 0) model.attention = to_string(spec.attention);
  if (to_string(spec.attention) != model.attention) return;
  if (app->count("--variant") == 0) model.variant = to_string(spec.variant);
  if (app->count("--extent") == 0) model.extent = extent_to_string(spec.extent);
  if (app->count("--pool") == 0) model.pool = to_string(spec.pool);
}

Dataset load_for_run(const ModelFlags& model, const DataFlags& data_flags, RunFlags& run, const CommonFlags& common,
                     const std::function<void(const std::string&)>& warn) {
  TrainConfig& c = run.config;
  c.model = to_spec(model);
  c.data = data_flags.data;
  c.cache_mb = data_flags.cache_mb;
  c.loader_threads = data_flags.loader_threads;
  c.threads = resolved_threads(common.threads);
  if (run.steps) c.steps = *run.steps;
  c.epochs = run.epochs.value_or(run.steps ? 0 : 10);
  c.validate_settings();
  c.require_length();
  const InputRequest asked = input_request(model);
  Dataset data = load_training_data(c, asked, warn);
  c = fit_to_data(c, data, asked);
  return data;
}

Command add_train_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    DataFlags data;
    RunFlags run;
    std::string out, resume, progress = "text";
    JobFlags job;
  };
  auto f = std::make_shared<Flags>();
  auto* app = gex.add_subcommand("train", "Train a model; a run directory that resumes exactly");
  add_model_flags(app, f->model);
  add_data_flags(app, f->data);
  add_run_flags(app, f->run);
  auto* out = app->add_option("--out", f->out, "New run directory");
  auto* resume_flag = app->add_option("--resume", f->resume, "Continue this run from its last checkpoint");
  out->excludes(resume_flag);
  app->add_option("--progress", f->progress, "text|json: progress on stderr as lines for people or JSON objects")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_job_flags(app, f->job);
  add_common_flags(app, f->common);

  return {app, [f, app]() {
            if (f->out.empty() && f->resume.empty()) throw UsageError("give --out RUN for a new run or --resume RUN");
            if (f->run.epochs && f->run.steps) throw UsageError("give --epochs or --steps, not both");
            if (f->job.nproc > 1) {  // the global batch a resume will use is the run's
              const int64_t batch =
                  f->resume.empty() ? f->run.config.batch : RunDirectory::open(f->resume).config().batch;
              if (const auto launched = launch_workers_if_asked(f->job, batch, !f->resume.empty())) return *launched;
            }
            // A rank of a data-parallel job joins its group before any work.
            f->run.config.dist_timeout = f->job.dist_timeout;
            const auto group = join_job(f->job, app, f->common);
            const bool speaks = cli::speaks(group.get());
            WorkControl control;
            install_signal_handlers(&control);
            const bool json_progress = f->progress == "json";
            const bool tty = speaks && !json_progress && ::isatty(STDERR_FILENO);
            TrainCallbacks callbacks = json_progress ? json_callbacks() : console_callbacks("gex train");
            if (!speaks) callbacks = {};
            if (const auto note = slurm_batch_script_note(); !note.empty() && callbacks.on_message)
              callbacks.on_message(note);  // srun forgotten: training alone is what the user may not expect
            const std::string processes = group ? std::to_string(group->size()) + " processes × " : "";
            TrainSummary summary;
            if (!f->resume.empty()) {
              // A resume is the recorded run: only its length, threads and device may change.
              for (const CLI::Option* option : app->get_options()) {
                const std::string name = option->get_name();
                if (option->count() == 0 || name == "--resume" || name == "--steps" || name == "--epochs" ||
                    name == "--threads" || name == "--device" || name == "--json" || name == "--progress" ||
                    name == "--nproc" || name == "--dist-timeout" || name == "--data")
                  continue;
                throw UsageError(name + " cannot change a run on --resume (its recorded settings are used; only "
                                 "--steps/--epochs, --threads, --device, --nproc, --dist-timeout and --data, the "
                                 "run's data at a new place, may be given)");
              }
              ResumeOptions options;
              options.steps = f->run.steps;
              options.epochs = f->run.epochs;
              if (app->count("--threads") > 0) options.threads = f->common.threads;
              if (app->count("--device") > 0) options.device = f->run.config.device;
              if (app->count("--data") > 0) options.data = f->data.data;
              if (callbacks.on_progress && !json_progress)  // the header, once resume() accepts the run
                callbacks.on_start = [&](const TrainConfig& config, int64_t step, int64_t total) {
                  std::fprintf(stderr, "gex train: resuming %s at step %lld of %lld: %s on %s (%s%d thread(s))\n",
                               f->resume.c_str(), static_cast<long long>(step), static_cast<long long>(total),
                               config.model.describe().c_str(), config.data.c_str(), processes.c_str(),
                               config.threads);
                };
              summary = resume(f->resume, options, callbacks, control, group.get());
            } else {
              adopt_init_model(app, f->model, f->run);
              const Dataset data = load_for_run(f->model, f->data, f->run, f->common, callbacks.on_message);
              if (callbacks.on_progress && !json_progress)  // the header, once train() accepts the run
                callbacks.on_start = [&](const TrainConfig& config, int64_t, int64_t) {
                  std::fprintf(stderr, "gex train: %s on %s (%lld train / %lld test images, %s%d thread(s)) → %s\n",
                               config.model.describe().c_str(), f->data.data.c_str(),
                               static_cast<long long>(data.train.size()), static_cast<long long>(data.test.size()),
                               processes.c_str(), config.threads, f->out.c_str());
                };
              summary = train(f->out, f->run.config, callbacks, control, &data, group.get());
            }
            install_signal_handlers(nullptr);
            if (tty) std::fprintf(stderr, "\n");
            nlohmann::json result = {{"images_per_second", summary.images_per_second},
                                     {"best", eval_json(summary.best)},
                                     {"final", eval_json(summary.final)},
                                     {"run", summary.run},
                                     {"step", summary.step},
                                     {"device", summary.device},
                                     {"threads", summary.threads},
                                     {"interrupted", summary.cancelled}};
            std::string human = summary.cancelled ? "interrupted at step " + std::to_string(summary.step) +
                                                        "; resume with: gex train --resume " + summary.run + "\n"
                                                  : "finished " + summary.run + "\n";
            if (summary.best)
              human += "best top-1 error " + std::to_string(100 * summary.best->eval.top1_error).substr(0, 5) +
                       "% at step " + std::to_string(summary.best->step) + "\n";
            if (group) result["world_size"] = group->size();
            if (speaks) emit(f->common, result, human);
            return static_cast<int>(summary.cancelled ? kExitInterrupted : kExitOk);
          }};
}

}  // namespace gex::cli
