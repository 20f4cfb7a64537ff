// The training loop of GE-SPEC §5 as an engine function: plain C++ callbacks for progress,
// pause/cancel tokens checked between batches, a NaN guard, and a run directory that resumes
// exactly (weights, optimiser state, schedule position, data order and augmentation).
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>

#include "data/dataset.h"
#include "train/evaluate.h"
#include "train/train_config.h"

namespace gex {

struct TrainProgress {
  int64_t step = 0;  // steps done
  int64_t total_steps = 0;
  double epoch = 0;  // fractional
  double loss = 0;   // mean training loss since the last report
  double top1_error = 0;
  double lr = 0;
  double images_per_second = 0;
  double eta_seconds = 0;
};

struct EvalReport {
  int64_t step = 0;
  double epoch = 0;
  Evaluation eval;
  bool is_best = false;
};

struct TrainCallbacks {
  std::function<void(const TrainProgress&)> on_progress;  // every log interval
  std::function<void(const EvalReport&)> on_eval;         // every evaluation
  std::function<void(const std::string&)> on_message;     // warnings and notes for the user
};

// Set from any thread; the trainer reads them between batches.
struct TrainControl {
  std::atomic<bool> cancel{false};
  std::atomic<bool> pause{false};
};

struct TrainSummary {
  std::string run;
  bool cancelled = false;
  int64_t step = 0;
  double images_per_second = 0;  // over the whole session, evaluation excluded
  std::optional<EvalReport> best, final;
  std::string device;
};

// A new run in `run_dir` (UsageError if it holds one). Throws RunError when the loss becomes
// NaN or infinite (the last good checkpoint stays), InputError for bad data.
// `data`, when given, is config.data already loaded (the CLI loads it to take defaults from it).
TrainSummary train(const std::string& run_dir, const TrainConfig& config, const TrainCallbacks& callbacks,
                   TrainControl& control, const Dataset* data = nullptr);

// Continues a run from checkpoints/last.safetensors to `steps`/`epochs` in total (the run's own
// length when neither is given), dropping metrics rows written after that checkpoint.
TrainSummary resume(const std::string& run_dir, std::optional<int64_t> steps, std::optional<int64_t> epochs,
                    const TrainCallbacks& callbacks, TrainControl& control);

// cpu, or cuda when asked for (or `auto`) and available; UsageError for cuda without CUDA.
torch::Device choose_device(const std::string& device);

}  // namespace gex
