#include "train/session.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <utility>

#include "data/batch_stream.h"
#include "dist/data_parallel.h"
#include "error_message.h"
#include "errors.h"
#include "models/block_tail.h"
#include "models/global_gate.h"
#include "models/registry.h"
#include "train/autocast.h"
#include "train/awake_clock.h"
#include "train/checkpoint.h"
#include "train/cuda_graph.h"
#include "train/sgd.h"

namespace gex {

namespace {

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

bool use_augmentation(const TrainConfig& config, const Dataset& data) {
  return config.augment == "on" || (config.augment == "auto" && data.augment);
}

// One session of a run: from its start step to the end of the run or a cancel.
class Session {
 public:
  Session(std::optional<RunDirectory> run, std::string run_path, TrainConfig config, const Dataset& data,
          StartState start, torch::Device device, const TrainCallbacks& callbacks, WorkControl& control,
          DataParallel* parallel)
      : m_run(std::move(run)),
        m_run_path(std::move(run_path)),
        m_cfg(std::move(config)),
        m_data(data),
        m_pre(std::move(start.preprocess)),
        m_net(std::move(start.net)),
        m_device(device),
        m_callbacks(callbacks),
        m_control(control),
        m_start_step(start.step),
        m_wall_before(start.wall_seconds),
        m_best(std::move(start.best)),
        m_last_eval(std::move(start.last_eval)),
        m_steps_per_epoch(steps_per_epoch(data.train.size(), m_cfg.batch)),
        m_total(planned_steps(m_cfg, data.train.size())),
        m_plan_total(start.plan_total),
        m_train_batch(m_pre, use_augmentation(m_cfg, data) && !data.photo_recipe),
        m_eval_batch(m_pre, false),
        m_optimizer(trainable_parameters(*m_net, m_cfg), {m_cfg.momentum, m_cfg.weight_decay, m_cfg.nesterov}),
        m_parallel(parallel),
        m_probe_images(std::move(start.probe_images)) {
    if (!start.optimizer_state.empty()) m_optimizer.load_state(start.optimizer_state, last_checkpoint());
    if (m_parallel) m_parallel->attach(*m_net, m_cfg.sync_bn);
    const auto zero = [&] { return torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(m_device)); };
    m_loss_sum = zero(), m_top1 = zero(), m_top5 = zero();
  }

  TrainSummary run() {
    try {
      return run_steps();
    } catch (const RunError& e) {
      // A lost peer (or a NaN): the last checkpoint stays, the run says why it stopped.
      mark_failed(e.what());
      if (m_parallel) m_parallel->group().say_failed(e.what());  // where no other rank said it first
      throw;
    } catch (const std::exception& e) {
      // Anything else once the run has started (a full disk under a checkpoint, memory run out):
      // the run failed (exit 4), its last good checkpoint stays, and run.json says why, not "running";
      // the other ranks say why too.
      const std::string what = error_message(e);
      mark_failed(what);
      if (m_parallel) m_parallel->group().say_failed(what);
      throw RunError(what);
    }
  }

 private:
  void mark_failed(const std::string& why) {
    if (!m_run || m_run->status() == RunStatus::kFailed) return;
    try {
      m_run->set_status(RunStatus::kFailed, why);
    } catch (const Error&) {
      // run.json cannot be written either (the disk is full): the lock, free now, says the writer is gone.
    }
  }

  std::string last_checkpoint() const { return RunDirectory::last_checkpoint_of(m_run_path); }

  TrainSummary run_steps() {
    if (m_callbacks.on_start) m_callbacks.on_start(m_cfg, m_start_step, m_total);
    // Denormal floats (tiny gradients late in training) are ~100× slower on x86; flush them.
    at::globalContext().setFlushDenormal(true);
    // The same shapes step after step: cuDNN times its algorithms once per shape and keeps the
    // fastest (PyTorch's torch.backends.cudnn.benchmark).
    if (m_device.is_cuda()) at::globalContext().setBenchmarkCuDNN(true);
    if (m_device.is_cuda() && !cuda_block_tail_built())
      say("the block tails and gates run as the generic graph on the GPU: this build of gex has no CUDA kernels "
          "for them (nvcc was not found when it was built)");
    // GEX_FUSED_NODES=off: the modules' own graph, for measuring what the fused nodes save.
    std::optional<GenericGraphGuard> generic;
    if (const char* fused = std::getenv("GEX_FUSED_NODES"); fused && std::string(fused) == "off") {
      generic.emplace();
      say("the fused training nodes are off (GEX_FUSED_NODES=off): the modules run their generic graph");
    }
    if (m_run) m_run->set_status(RunStatus::kRunning);
    record_unfinished_probe();
    train_mode();
    prepare_graph();
    m_interval_start = m_awake.seconds();
    int64_t step = m_start_step;
    m_reported_step = m_start_step;
    m_batches = std::make_unique<BatchStream>(m_data.train, m_total - m_start_step,
                                              [this](int64_t k) { return plan(m_start_step + k); });
    while (step < m_total) {
      m_control.wait_while_paused();
      if (!m_parallel && m_control.cancelled()) break;
      if (!train_step(step)) break;  // every process was asked to stop
      ++step;
      const bool eval_now = step % eval_every() == 0 || step == m_total;
      const bool ckpt_now = m_cfg.checkpoint_every > 0 && step % m_cfg.checkpoint_every == 0;
      const bool log_now = step % m_cfg.log_every == 0 || step == m_total || step % m_steps_per_epoch == 0;
      const bool probe_now = probe_due(step);
      if (!(log_now || eval_now || ckpt_now || probe_now)) continue;
      report(step);
      if (eval_now) evaluate_and_checkpoint(step);
      else if (ckpt_now) checkpoint(step);
      if (probe_now) probe(step);
      m_interval_start = m_awake.seconds();  // evaluations and probes are not training time
    }
    return finish(step);
  }

  // Seconds a step, for the ETA: the lower median over the last few intervals, so that an interval
  // that a pause (SIGSTOP, Pause in the application) or a busy moment stretched does not hold the
  // estimate up for the rest of the run, as an average over the session did.
  double recent_pace(double seconds, int64_t steps) {
    constexpr size_t kIntervals = 5;
    if (steps > 0) m_paces.push_back(seconds / double(steps));
    if (m_paces.size() > kIntervals) m_paces.pop_front();
    if (m_paces.empty()) return 0;
    std::vector<double> sorted(m_paces.begin(), m_paces.end());
    std::sort(sorted.begin(), sorted.end());
    return sorted[(sorted.size() - 1) / 2];
  }

  int64_t eval_every() const { return m_cfg.eval_every > 0 ? m_cfg.eval_every : m_steps_per_epoch; }

  bool probe_due(int64_t step) const {
    if (!m_cfg.probes) return false;
    return step == m_total || step % (m_cfg.probe_every > 0 ? m_cfg.probe_every : m_steps_per_epoch) == 0;
  }

  // The analyses of this step (DESIGN §6), in eval mode on rank 0's statistics, beside a kept
  // checkpoint of the weights they describe. Training state is untouched.
  void probe(int64_t step) {
    if (m_parallel) m_parallel->broadcast_buffers();
    guard_finite(0.0, step, true);
    if (m_cfg.keep_checkpoints != "none") keep_checkpoint(step);
    ProbeSettings settings;
    settings.images = m_cfg.probe_images;
    settings.limit = m_cfg.probe_limit;
    settings.prune_layer = m_cfg.probe_prune;
    record_probe(*m_net, m_pre, m_data.test, m_probe_images, settings, m_run_path, step, epoch_at(step),
                 m_wall_before + m_session_seconds, m_run.has_value(), m_parallel ? m_parallel->shard() : Shard{});
    train_mode();
  }

  // A run that stopped during the probe of the step it resumes from (killed, its disk full) lacks
  // that probe: recorded now from the same weights, as the run would have. Rank 0 decides.
  void record_unfinished_probe() {
    if (!m_cfg.probes || m_start_step == 0) return;
    const bool due = probe_due(m_start_step) || m_start_step == m_plan_total;
    double missing = m_run && due && !has_probe(m_run_path, m_start_step) ? 1.0 : 0.0;
    if (m_parallel) {
      auto flag = torch::tensor({missing}, torch::kFloat64);
      m_parallel->group().all_reduce_sum(flag);
      missing = flag.item<double>();
    }
    if (missing == 0) return;
    say("the run stopped before its probe at step " + std::to_string(m_start_step) + " was written: it is probed now");
    if (std::error_code ec; std::filesystem::exists(probe_checkpoint_path(m_run_path, m_start_step), ec))
      m_kept_step = m_start_step;
    probe(m_start_step);
  }

  // checkpoints/step-<step>.safetensors (once a step).
  void keep_checkpoint(int64_t step) {
    if (!m_run || m_kept_step == step) return;
    save(step, probe_checkpoint_path(m_run_path, step));
    m_kept_step = step;
  }

  // The parameters the optimiser updates: all of them, or with a frozen backbone only the attention
  // modules' and the head's (the others stop requiring gradients, so backward skips them).
  static TensorList trainable_parameters(NetworkImpl& net, const TrainConfig& config) {
    TensorList out;
    for (const auto& p : net.named_parameters()) {
      const bool frozen = config.freeze_backbone && !is_attention_tensor(p.key()) && !is_head_tensor(p.key());
      p.value().requires_grad_(!frozen);
      if (!frozen) out.emplace_back(p.key(), p.value());
    }
    return out;
  }

  // Training mode, but a frozen backbone's BatchNorm layers keep normalising with, and never
  // update, their running statistics.
  void train_mode() {
    m_net->train();
    if (!m_cfg.freeze_backbone) return;
    for (const auto& m : m_net->named_modules())
      if (dynamic_cast<BatchNorm2dImpl*>(m.value().get()) && !is_attention_tensor(m.key() + "."))
        m.value()->eval();
  }
  double epoch_at(int64_t step) const { return double(step) / double(m_steps_per_epoch); }

  // The rows of a step's batch: its share of the epoch's seeded permutation, and (photographs)
  // the epoch of the loader's per-sample crops.
  BatchPlan plan(int64_t step) {
    const int64_t n = m_data.train.size();
    const int64_t epoch = step / m_steps_per_epoch;
    auto& order = m_orders[epoch];
    if (!order.defined()) {
      auto gen = stream(m_cfg.seed, 1, epoch);
      order = torch::randperm(n, gen, torch::kInt64);
      m_orders.erase(m_orders.begin(), m_orders.lower_bound(epoch - 1));  // the loader looks ahead, never back
    }
    const int64_t pos = step % m_steps_per_epoch;
    BatchPlan p;
    p.index = order.slice(0, pos * m_cfg.batch, std::min(n, (pos + 1) * m_cfg.batch));
    if (m_parallel) {  // this process's share of the global batch
      const int64_t rows = p.index.size(0);
      p.index = p.index.slice(0, m_parallel->shard().begin(rows), m_parallel->shard().end(rows));
    }
    p.view = {m_data.photo_recipe && use_augmentation(m_cfg, m_data), m_cfg.seed, epoch};
    return p;
  }

  // Forward, backward and update on the step's batch; the interval's loss and hits stay on the
  // device (no host sync). Data-parallel, the processes first agree on the batch's size and on
  // whether to stop; false when they stop. With a CUDA graph, full batches replay the captured step.
  bool train_step(int64_t step) {
    const Rows rows = m_batches->next();
    m_lr = learning_rate(m_cfg, step, m_total);
    int64_t first = 0, global = rows.labels.size(0);
    if (m_parallel) {
      const auto agreed = m_parallel->agree(rows.labels.size(0), m_control.cancelled());
      if (agreed.stop) return false;
      first = m_parallel->shard().begin(planned_rows(step)), global = agreed.rows;
      if (agreed.skip) return true;  // a process has no rows and BatchNorm is synchronised
    }
    if (global == 0) return true;  // every file of the batch unreadable (each was named)
    const int64_t n = rows.labels.size(0);
    torch::Tensor x, y;
    if (n > 0) {
      // Images travel as uint8 and are augmented where the network runs.
      auto aug = stream(m_cfg.seed, 2, step);
      y = to_device(rows.labels, m_device);
      x = m_train_batch(to_device(rows.images, m_device), aug, first, planned_rows(step), rows.positions);
    }
    m_interval_images += n;
    if (n == m_cfg.batch && graphed_step(x, y, step)) return true;  // captured at the full batch
    m_optimizer.zero_grad();
    if (m_parallel) m_parallel->begin_backward();
    if (n > 0) learn(x, y, global);
    if (m_parallel) m_parallel->finish_backward();
    m_optimizer.step(m_lr);
    return true;
  }

  // Forward and backward on one batch, and its loss and hits added to the interval's sums.
  void learn(const torch::Tensor& x, const torch::Tensor& y, int64_t global) {
    torch::Tensor logits, loss;
    {
      CudaAutocast autocast(m_device.is_cuda() && m_cfg.amp != "off");
      logits = m_net->forward(x);
      // Data-parallel: this share's summed loss over the global batch size, so that the summed
      // gradients are those of the global batch's mean loss.
      loss = m_parallel ? torch::nn::functional::cross_entropy(
                              logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
                              double(global)
                        : torch::nn::functional::cross_entropy(logits, y);
    }
    loss.backward();
    torch::NoGradGuard no_grad;
    const auto k = std::min<int64_t>(5, logits.size(1));
    const auto hits = std::get<1>(logits.detach().topk(k, 1)).eq(y.view({-1, 1}));
    m_loss_sum += loss.detach() * double(m_parallel ? global : y.size(0));
    m_top1 += hits.select(1, 0).sum();
    m_top5 += hits.any(1).sum();
  }

  // The step as a CUDA graph (one process, `--cuda-graph` auto or on): the whole step, optimiser
  // included, captured after a few eager steps and replayed. A batch of another size (an epoch's
  // last) steps eagerly; a capture that fails is said once and training goes on eagerly.
  void prepare_graph() {
    if (m_cfg.cuda_graph == "off" || !m_device.is_cuda()) return;
    if (m_parallel) {
      say("CUDA graphs are not used with several processes (their gradients are reduced from hooks during the "
          "backward pass)");
      return;
    }
    const auto why = GraphedFunction::unavailable(m_device);
    if (!why.empty()) return say("CUDA graphs are not used: " + why);
    m_lr_tensor = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(m_device));
    m_optimizer.prepare_buffers();
    m_graph = GraphedFunction::create(
        m_device,
        [this](const std::vector<torch::Tensor>& in) {
          m_optimizer.zero_grad();
          learn(in[0], in[1], in[1].size(0));
          m_optimizer.step(m_lr_tensor);
          return std::vector<torch::Tensor>{};
        },
        /*warmup=*/3);
  }

  bool graphed_step(const torch::Tensor& x, const torch::Tensor& y, int64_t step) {
    if (!m_graph) return false;
    m_lr_tensor.fill_(m_lr);
    const bool was_replaying = m_graph->replaying();
    if (m_graph->run({x, y})) {
      if (!was_replaying && m_graph->replaying())
        say("the training step is a CUDA graph from step " + std::to_string(step + 1) +
            " on: captured once, replayed for every batch of " + std::to_string(x.size(0)));
      return true;
    }
    if (!m_graph->failure().empty()) {
      say("the training step could not be captured as a CUDA graph (" + m_graph->failure() +
          "); training goes on without one");
      m_graph.reset();
    }
    return false;
  }

  void say(const std::string& message) const {
    if (m_callbacks.on_message) m_callbacks.on_message(message);
  }

  // The rows the step's plan gives the whole job (before unreadable files are left out).
  int64_t planned_rows(int64_t step) const {
    const int64_t pos = step % m_steps_per_epoch;
    return std::min(m_data.train.size(), (pos + 1) * m_cfg.batch) - pos * m_cfg.batch;
  }

  // The NaN guard: a non-finite loss (or, before a checkpoint, weights or BN statistics) fails
  // the run and keeps the last good checkpoint.
  void guard_finite(double mean_loss, int64_t step, bool check_weights) {
    std::string what;
    if (!std::isfinite(mean_loss)) {
      what = "the training loss became " + std::to_string(mean_loss);
    } else if (check_weights) {
      // Activations can overflow before the loss does: BN's running variance goes first.
      torch::NoGradGuard no_grad;
      for (const auto& t : m_net->named_parameters())
        if (!torch::isfinite(t.value()).all().item<bool>()) what = "the weight " + t.key() + " became non-finite";
      for (const auto& t : m_net->named_buffers())
        if (t.value().is_floating_point() && !torch::isfinite(t.value()).all().item<bool>())
          what = "the statistic " + t.key() + " became non-finite";
    }
    if (what.empty()) return;
    if (m_run) m_run->set_status(RunStatus::kFailed, what + " at step " + std::to_string(step));
    throw RunError(what + " near step " + std::to_string(step) + "; the last good checkpoint is " +
                   last_checkpoint() + " (try a lower --lr)");
  }

  // The interval since the last report: a metrics row, the progress callback; the only host sync.
  void report(int64_t step) {
    if (m_parallel) m_parallel->sum_interval(m_loss_sum, m_top1, m_top5, m_interval_images);
    const int64_t steps = step - std::exchange(m_reported_step, step);
    if (m_interval_images == 0) return;  // only unreadable batches since the last report
    const double mean_loss = m_loss_sum.item<double>() / double(m_interval_images);
    guard_finite(mean_loss, step, false);
    const double seconds = m_awake.seconds() - m_interval_start;
    m_session_seconds += seconds;
    m_train_seconds += seconds;
    m_session_images += m_interval_images;
    TrainProgress p;
    p.step = step;
    p.total_steps = m_total;
    p.epoch = epoch_at(step);
    p.loss = mean_loss;
    p.top1_error = 1.0 - m_top1.item<double>() / double(m_interval_images);
    p.lr = m_lr;
    p.images_per_second = seconds > 0 ? double(m_interval_images) / seconds : 0;
    p.eta_seconds = double(m_total - step) * recent_pace(seconds, steps);
    if (m_run)
      m_run->append_metrics({{step, p.epoch, "train", mean_loss, p.top1_error,
                              1.0 - m_top5.item<double>() / double(m_interval_images), m_lr, p.images_per_second,
                              m_wall_before + m_session_seconds}});
    if (m_callbacks.on_progress) m_callbacks.on_progress(p);
    m_loss_sum.zero_(), m_top1.zero_(), m_top5.zero_();
    m_interval_images = 0;
  }

  // Validation, its metrics row, `last` and (when it is the best so far) `best`. A cancelled
  // evaluation records nothing; `finish` saves `last`.
  void evaluate_and_checkpoint(int64_t step) {
    EvalOptions eo;
    eo.limit = m_cfg.eval_limit;
    eo.device = m_device;
    eo.control = &m_control;
    eo.cuda_graph = m_cfg.cuda_graph != "off";
    if (m_parallel) {
      m_parallel->broadcast_buffers();  // every process evaluates rank 0's network, on its share
      eo.shard = m_parallel->shard();
      eo.control = nullptr;  // a stop is agreed on at the next step, never in the middle of collectives
    }
    EvalReport report;
    report.step = step;
    report.epoch = epoch_at(step);
    report.eval = evaluate(*m_net, m_data.test, m_eval_batch, eo);
    train_mode();
    if (report.eval.images == 0 || (!m_parallel && m_control.cancelled())) return;
    report.is_best = !m_best || report.eval.top1_error < m_best->eval.top1_error;
    m_last_eval = report;
    if (report.is_best) m_best = report;
    if (m_run)
      m_run->append_metrics({{step, report.epoch, "val", report.eval.loss, report.eval.top1_error,
                              report.eval.top5_error, m_lr, 0.0, m_wall_before + m_session_seconds}});
    if (m_callbacks.on_eval) m_callbacks.on_eval(report);
    checkpoint(step);
    if (report.is_best && m_run) save(step, m_run->best_checkpoint());
  }

  // `last` (rank 0 alone writes; the others only keep the clock).
  void checkpoint(int64_t step) {
    if (m_parallel) m_parallel->broadcast_buffers();
    guard_finite(0.0, step, true);
    m_wall_before += m_session_seconds;
    m_session_seconds = 0;
    if (!m_run) return;
    auto skipped = skipped_files(m_data.train);
    for (auto& f : skipped_files(m_data.test)) skipped.push_back(std::move(f));
    m_run->set_skipped_files(skipped);
    save(step, m_run->last_checkpoint());
    if (m_cfg.keep_checkpoints == "all") keep_checkpoint(step);
  }

  void save(int64_t step, const std::string& path) {
    CheckpointInfo info;
    info.model = m_net->spec();
    info.preprocess = m_pre;
    info.step = step;
    info.epoch = step / m_steps_per_epoch;
    info.trainer = m_cfg.to_json();
    nlohmann::json metrics = {{"wall_seconds", m_wall_before}};
    if (m_last_eval) metrics["val"] = eval_json(*m_last_eval);
    if (m_best) metrics["best"] = eval_json(*m_best);
    info.metrics = metrics.dump();
    save_checkpoint(path, *m_net, info, m_optimizer.state());
  }

  // Cancelled, or finished between checkpoints: a resumable `last` at this step.
  TrainSummary finish(int64_t step) {
    if (m_parallel) m_parallel->sum_interval(m_loss_sum, m_top1, m_top5, m_interval_images);
    if (m_interval_images > 0) {
      guard_finite(m_loss_sum.item<double>() / double(m_interval_images), step, false);
      m_session_seconds += m_awake.seconds() - m_interval_start;
    }
    checkpoint(step);
    TrainSummary summary;
    summary.run = m_run_path;
    summary.device = m_device.str();
    summary.threads = m_cfg.threads;
    summary.cancelled = step < m_total;
    summary.step = step;
    summary.best = m_best;
    summary.final = m_last_eval;
    summary.images_per_second = m_train_seconds > 0 ? double(m_session_images) / m_train_seconds : 0;
    if (m_run) m_run->set_status(summary.cancelled ? RunStatus::kStopped : RunStatus::kFinished);
    return summary;
  }

  std::optional<RunDirectory> m_run;  // the writer's (rank 0's) handle; other processes write nothing
  const std::string m_run_path;
  const TrainConfig m_cfg;
  const Dataset& m_data;
  const Preprocess m_pre;
  Network m_net;
  const torch::Device m_device;
  const TrainCallbacks& m_callbacks;
  WorkControl& m_control;
  const int64_t m_start_step;
  double m_wall_before;  // training seconds up to the last checkpoint
  std::optional<EvalReport> m_best, m_last_eval;
  const int64_t m_steps_per_epoch, m_total;
  const int64_t m_plan_total;  // the last step of the schedule the start checkpoint was written under
  const BatchMaker m_train_batch, m_eval_batch;
  Sgd m_optimizer;
  DataParallel* const m_parallel;  // null for one process
  const std::vector<ProbeImage> m_probe_images;
  int64_t m_kept_step = -1;  // the step of the last checkpoints/step-N written

  std::map<int64_t, torch::Tensor> m_orders;  // the data order of the epochs being loaded
  std::unique_ptr<BatchStream> m_batches;
  double m_lr = 0;
  std::unique_ptr<GraphedFunction> m_graph;  // the captured step (CUDA), or none
  torch::Tensor m_lr_tensor;                 // m_lr on the device, read by the captured step
  torch::Tensor m_loss_sum, m_top1, m_top5;  // of the interval since the last report
  int64_t m_interval_images = 0, m_session_images = 0;
  double m_session_seconds = 0;  // since the last checkpoint (moved into m_wall_before there)
  double m_train_seconds = 0;    // this session's training time, evaluation excluded
  AwakeClock m_awake;  // training time, a pause (SIGSTOP) left out
  double m_interval_start = 0;  // m_awake's seconds at the start of the interval
  int64_t m_reported_step = 0;  // where the interval began
  std::deque<double> m_paces;   // seconds a step of the last intervals (recent_pace)
};

// Rank 0 records the processes the run trains on and the backend its gradients meet through, and
// says why a run on GPUs does not use NCCL.
void record_world(ProcessGroup* group, std::optional<RunDirectory>& run, torch::Device device,
                  const TrainCallbacks& callbacks) {
  if (!group) {
    if (run && run->world_size() != 1) run->set_world(1, "", {});
    return;
  }
  auto hosts = rank_hosts(*group);
  if (!run) return;
  std::vector<std::string> unique;
  for (auto& h : hosts)
    if (std::find(unique.begin(), unique.end(), h) == unique.end()) unique.push_back(h);
  const std::string backend = group->backend_for(device);
  run->set_world(group->size(), backend, unique);
  if (device.is_cuda() && backend != "nccl" && callbacks.on_message)
    callbacks.on_message("gradients meet through Gloo in host memory, not NCCL: " + group->why_not_nccl());
}

}  // namespace

TrainSummary run_session(std::optional<RunDirectory> run, const std::string& run_dir, const TrainConfig& config,
                         const Dataset& data, StartState start, torch::Device device, const TrainCallbacks& callbacks,
                         WorkControl& control, ProcessGroup* group) {
  record_world(group, run, device, callbacks);
  if (config.probes)
    on_all_ranks(group, "preparing the probes", [&] {
      check_prune_layer(*start.net, config.probe_prune);
      // A resumed run goes on without a probe image that has gone since; a new run refuses it.
      std::function<void(const std::string&)> warn;
      if (start.step > 0) warn = [&](const std::string& m) { if (callbacks.on_message) callbacks.on_message(m); };
      if (run) start.probe_images = probe_images(data.test, start.preprocess, config.probe_images, warn);
    });
  std::unique_ptr<DataParallel> parallel = group ? std::make_unique<DataParallel>(*group) : nullptr;
  return Session(std::move(run), run_dir, config, data, std::move(start), device, callbacks, control, parallel.get())
      .run();
}

}  // namespace gex
