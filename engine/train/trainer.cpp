#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include "data/dataset.h"
#include "errors.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/sgd.h"

namespace gex {

namespace {

using Clock = std::chrono::steady_clock;

// Independent, reproducible random streams from (seed, purpose, index): the data order of an
// epoch and the augmentation of a step depend on nothing else, so a resumed run sees exactly
// what an uninterrupted one would.
at::Generator stream(uint64_t seed, uint64_t purpose, uint64_t index) {
  uint64_t z = seed * 0x9E3779B97F4A7C15ull + purpose * 0xBF58476D1CE4E5B9ull + index * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return at::make_generator<at::CPUGeneratorImpl>(z);
}

nlohmann::json eval_json(const EvalReport& r) {
  return {{"step", r.step}, {"epoch", r.epoch}, {"loss", r.eval.loss}, {"top1_error", r.eval.top1_error},
          {"top5_error", r.eval.top5_error}, {"images", r.eval.images}};
}

std::optional<EvalReport> eval_from_json(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("top1_error")) return std::nullopt;
  EvalReport r;
  r.step = j.value("step", int64_t{0});
  r.epoch = j.value("epoch", 0.0);
  r.eval.loss = j.value("loss", 0.0);
  r.eval.top1_error = j.value("top1_error", 1.0);
  r.eval.top5_error = j.value("top5_error", 1.0);
  r.eval.images = j.value("images", int64_t{0});
  return r;
}

// bf16 autocast on CUDA for the forward pass and the loss (bf16 needs no loss scaling). The call
// names changed in LibTorch 2.4.
class CudaAutocast {
 public:
  explicit CudaAutocast(bool on) : m_on(on) {
    if (m_on) set(true);
  }
  ~CudaAutocast() {
    if (!m_on) return;
    set(false);
    at::autocast::clear_cache();
  }
  CudaAutocast(const CudaAutocast&) = delete;
  CudaAutocast& operator=(const CudaAutocast&) = delete;

 private:
  static void set(bool on) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    at::autocast::set_autocast_dtype(at::kCUDA, at::kBFloat16);
    at::autocast::set_autocast_enabled(at::kCUDA, on);
#else
    at::autocast::set_autocast_gpu_dtype(at::kBFloat16);
    at::autocast::set_enabled(on);
#endif
  }
  bool m_on;
};

struct Session {
  RunDirectory run;
  TrainConfig config;
  Dataset data;
  Preprocess preprocess;
  Network net;
  torch::Device device = torch::kCPU;
  int64_t start_step = 0;
  double wall_before = 0;  // training seconds of earlier sessions
  std::optional<EvalReport> best, last_eval;
  TensorList optimizer_state;
};

void check_fits(const Dataset& data, const ModelSpec& spec) {
  if (data.channels != spec.in_channels)
    throw UsageError("the data set " + data.source + " has " + std::to_string(data.channels) +
                     " channel(s) but the model takes " + std::to_string(spec.in_channels));
  if (data.num_classes() != spec.num_classes)
    throw UsageError("the data set " + data.source + " has " + std::to_string(data.num_classes()) +
                     " classes but the model has " + std::to_string(spec.num_classes));
  if (data.train.size() == 0) throw InputError(data.source, "the training split is empty");
}

DataOptions data_options(const TrainConfig& config, const TrainCallbacks& callbacks) {
  DataOptions options;
  options.input_size = config.model.input_size;
  options.seed = config.seed;
  options.synthetic_size = config.model.input_size;
  options.synthetic_channels = config.model.in_channels;
  options.warn = callbacks.on_message;
  return options;
}

bool use_augmentation(const TrainConfig& config, const Dataset& data) {
  return config.augment == "on" || (config.augment == "auto" && data.augment);
}

TrainSummary run_loop(Session& s, const TrainCallbacks& callbacks, TrainControl& control) {
  // Denormal floats (tiny gradients late in training) are ~100× slower on x86; flush them.
  at::globalContext().setFlushDenormal(true);
  auto& net = *s.net;
  const auto& cfg = s.config;
  const int64_t n = s.data.train.size();
  const int64_t steps_per_epoch = (n + cfg.batch - 1) / cfg.batch;
  const int64_t total = cfg.steps > 0 ? cfg.steps : cfg.epochs * steps_per_epoch;
  const int64_t eval_every = cfg.eval_every > 0 ? cfg.eval_every : steps_per_epoch;
  const BatchMaker train_batch(s.preprocess, use_augmentation(cfg, s.data));
  const BatchMaker eval_batch(s.preprocess, false);
  const bool amp = s.device.is_cuda() && cfg.amp != "off";

  Sgd optimizer(net.named_parameters().pairs(), {cfg.momentum, cfg.weight_decay, cfg.nesterov});
  if (!s.optimizer_state.empty()) optimizer.load_state(s.optimizer_state, s.run.last_checkpoint());

  TrainSummary summary;
  summary.run = s.run.path();
  summary.device = s.device.str();
  s.run.set_status("running");

  auto save = [&](int64_t step, const std::string& path) {
    CheckpointInfo info;
    info.model = net.spec();
    info.preprocess = s.preprocess;
    info.step = step;
    info.epoch = step / steps_per_epoch;
    info.trainer = cfg.to_json();
    nlohmann::json metrics = {{"wall_seconds", s.wall_before}};
    if (s.last_eval) metrics["val"] = eval_json(*s.last_eval);
    if (s.best) metrics["best"] = eval_json(*s.best);
    info.metrics = metrics.dump();
    save_checkpoint(path, net, info, optimizer.state());
  };

  auto zeros = [&] { return torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(s.device)); };
  auto loss_sum = zeros(), top1 = zeros(), top5 = zeros();
  int64_t interval_images = 0, session_images = 0;
  double session_seconds = 0;        // since the last checkpoint (moved into wall_before there)
  double session_train_seconds = 0;  // this session's training time, evaluation excluded
  auto interval_start = Clock::now();
  at::Tensor order;
  int64_t order_epoch = -1;

  net.train();
  int64_t step = s.start_step;
  while (step < total) {
    while (control.pause.load() && !control.cancel.load()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (control.cancel.load()) break;

    const int64_t epoch = step / steps_per_epoch;
    if (epoch != order_epoch) {
      auto gen = stream(cfg.seed, 1, epoch);
      order = torch::randperm(n, gen, torch::kInt64);
      order_epoch = epoch;
    }
    const int64_t pos = step % steps_per_epoch;
    auto idx = order.slice(0, pos * cfg.batch, std::min(n, (pos + 1) * cfg.batch));
    auto aug = stream(cfg.seed, 2, step);
    auto x = train_batch(s.data.train.images.index_select(0, idx), aug).to(s.device, true);
    auto y = s.data.train.labels.index_select(0, idx).to(s.device, true);
    const double lr = learning_rate(cfg, step, total);

    torch::Tensor logits, loss;
    {
      CudaAutocast autocast(amp);
      logits = net.forward(x);
      loss = torch::nn::functional::cross_entropy(logits, y);
    }
    optimizer.zero_grad();
    loss.backward();
    optimizer.step(lr);
    {
      torch::NoGradGuard no_grad;
      const auto k = std::min<int64_t>(5, logits.size(1));
      auto hits = std::get<1>(logits.detach().topk(k, 1)).eq(y.view({-1, 1}));
      loss_sum += loss.detach() * double(idx.size(0));
      top1 += hits.select(1, 0).sum();
      top5 += hits.any(1).sum();
    }
    interval_images += idx.size(0);
    ++step;

    const bool log_now = step % cfg.log_every == 0 || step == total || step % steps_per_epoch == 0;
    const bool eval_now = step % eval_every == 0 || step == total;
    const bool ckpt_now = cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0;
    if (log_now || eval_now || ckpt_now) {
      const double mean_loss = loss_sum.item<double>() / interval_images;  // the only host sync
      if (!std::isfinite(mean_loss)) {
        s.run.set_status("failed", "the training loss became " + std::to_string(mean_loss) + " at step " +
                                       std::to_string(step));
        throw RunError("the training loss became " + std::to_string(mean_loss) + " near step " +
                       std::to_string(step) + "; the last good checkpoint is " + s.run.last_checkpoint() +
                       " (try a lower --lr)");
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - interval_start).count();
      session_seconds += seconds;
      session_train_seconds += seconds;
      session_images += interval_images;
      TrainProgress p;
      p.step = step;
      p.total_steps = total;
      p.epoch = double(step) / steps_per_epoch;
      p.loss = mean_loss;
      p.top1_error = 1.0 - top1.item<double>() / interval_images;
      p.lr = lr;
      p.images_per_second = seconds > 0 ? interval_images / seconds : 0;
      p.eta_seconds = (total - step) * session_train_seconds / double(step - s.start_step);
      MetricsRow row{step, p.epoch, "train", mean_loss, p.top1_error,
                     1.0 - top5.item<double>() / interval_images, lr, p.images_per_second,
                     s.wall_before + session_seconds};
      s.run.append_metrics({row});
      if (callbacks.on_progress) callbacks.on_progress(p);
      loss_sum.zero_(), top1.zero_(), top5.zero_();
      interval_images = 0;

      if (eval_now) {
        EvalOptions eo;
        eo.limit = cfg.eval_limit;
        eo.device = s.device;
        eo.cancel = &control.cancel;
        EvalReport report;
        report.step = step;
        report.epoch = p.epoch;
        report.eval = evaluate(net, s.data.test, eval_batch, eo);
        net.train();
        if (report.eval.images > 0 && !control.cancel.load()) {
          report.is_best = !s.best || report.eval.top1_error < s.best->eval.top1_error;
          s.last_eval = report;
          if (report.is_best) s.best = report;
          s.run.append_metrics({{step, p.epoch, "val", report.eval.loss, report.eval.top1_error,
                                 report.eval.top5_error, lr, 0.0, s.wall_before + session_seconds}});
          if (callbacks.on_eval) callbacks.on_eval(report);
          s.wall_before += session_seconds;
          session_seconds = 0;
          save(step, s.run.last_checkpoint());
          if (report.is_best) save(step, s.run.best_checkpoint());
        }
      } else if (ckpt_now) {
        s.wall_before += session_seconds;
        session_seconds = 0;
        save(step, s.run.last_checkpoint());
      }
      interval_start = Clock::now();
    }
  }

  // Cancelled (or finished between checkpoints): keep a resumable `last` at this step.
  s.wall_before += session_seconds;
  if (interval_images > 0) {
    const double mean_loss = loss_sum.item<double>() / interval_images;
    if (!std::isfinite(mean_loss)) {
      s.run.set_status("failed", "the training loss became non-finite");
      throw RunError("the training loss became non-finite near step " + std::to_string(step) +
                     "; the last good checkpoint is " + s.run.last_checkpoint());
    }
  }
  save(step, s.run.last_checkpoint());
  summary.cancelled = step < total;
  summary.step = step;
  summary.best = s.best;
  summary.final = s.last_eval;
  summary.images_per_second = session_train_seconds > 0 ? session_images / session_train_seconds : 0;
  s.run.set_status(summary.cancelled ? "stopped" : "finished");
  return summary;
}

}  // namespace

torch::Device choose_device(const std::string& device) {
  if (device == "cpu") return torch::kCPU;
  const bool cuda = torch::cuda::is_available();
  if (device == "cuda" && !cuda)
    throw UsageError("--device cuda: no CUDA device is available to this build of LibTorch");
  return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

TrainSummary train(const std::string& run_dir, const TrainConfig& config, const TrainCallbacks& callbacks,
                   TrainControl& control, const Dataset* data) {
  config.validate();
  if (config.steps == 0 && config.epochs == 0) throw UsageError("give the length of the run: --epochs or --steps");
  Session s;
  s.config = config;
  s.device = choose_device(config.device);
  s.data = data ? *data : load_dataset(config.data, data_options(config, callbacks));
  check_fits(s.data, config.model);
  s.preprocess.channels = s.data.channels;
  s.preprocess.input_size = config.model.input_size;
  s.preprocess.class_names = s.data.class_names;
  channel_statistics(s.data.train.images, s.preprocess.mean, s.preprocess.std);
  torch::manual_seed(config.seed);
  s.net = build_network(config.model);
  s.net->to(s.device);
  to_channels_last(*s.net);
  s.run = RunDirectory::create(run_dir, config, s.device.str());
  return run_loop(s, callbacks, control);
}

TrainSummary resume(const std::string& run_dir, std::optional<int64_t> steps, std::optional<int64_t> epochs,
                    const TrainCallbacks& callbacks, TrainControl& control) {
  Session s;
  s.run = RunDirectory::open(run_dir);
  s.config = s.run.config();
  if (steps) s.config.steps = *steps, s.config.epochs = 0;
  if (epochs) s.config.epochs = *epochs, s.config.steps = 0;
  s.config.validate();
  auto ckpt = load_checkpoint(s.run.last_checkpoint());
  if (!(ckpt.info.model == s.config.model))
    throw InputError(s.run.last_checkpoint(), "its model differs from the run's run.json");
  s.device = choose_device(s.config.device);
  s.data = load_dataset(s.config.data, data_options(s.config, callbacks));
  check_fits(s.data, s.config.model);
  s.preprocess = ckpt.info.preprocess;
  s.net = ckpt.net;
  s.net->to(s.device);
  to_channels_last(*s.net);
  s.start_step = ckpt.info.step;
  s.optimizer_state = ckpt.extra;
  try {
    const auto metrics = nlohmann::json::parse(ckpt.info.metrics);
    s.wall_before = metrics.value("wall_seconds", 0.0);
    if (metrics.contains("best")) s.best = eval_from_json(metrics["best"]);
    if (metrics.contains("val")) s.last_eval = eval_from_json(metrics["val"]);
  } catch (const nlohmann::json::exception&) {
    // Metrics are informative only; a run resumes without them.
  }
  s.run.truncate_metrics_after(s.start_step);
  s.run.set_config(s.config, s.device.str());
  return run_loop(s, callbacks, control);
}

}  // namespace gex
