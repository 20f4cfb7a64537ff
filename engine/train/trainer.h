// The training loop of GE-SPEC §5 as an engine function: plain C++ callbacks for progress, a
// cancel/pause token checked between batches, a NaN guard, and a run directory that resumes
// exactly (weights, optimiser state, schedule position, data order, augmentation and threads).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "control.h"
#include "dist/process_group.h"
#include "data/dataset.h"
#include "train/checkpoint.h"
#include "train/device.h"
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
  // Once, as the steps begin: the settings, the step the session starts from (a resume's) and the
  // run's steps.
  std::function<void(const TrainConfig&, int64_t start_step, int64_t total_steps)> on_start;
};

struct TrainSummary {
  std::string run;
  bool cancelled = false;
  int64_t step = 0;
  double images_per_second = 0;  // over the whole session, evaluation excluded
  std::optional<EvalReport> best, final;
  std::string device;
  int threads = 0;
};

// What the user asked of the model's input and output; what is not asked comes from the data.
struct InputRequest {
  std::optional<int> classes, channels, size;
};

// How training loads the data set `config.data` names: image folders resized to the asked size
// (else 224 for ImageNet backbones, 32 for the others), a folder without val/ held out with the
// run's seed, synthetic data generated at the asked size and channels.
DataOptions training_data_options(const TrainConfig& config, const InputRequest& asked,
                                  const std::function<void(const std::string&)>& warn = nullptr);

// How a data set is loaded to measure a checkpoint on it (eval, selectivity, pruning, the views):
// at the checkpoint's input size and channels, a folder without val/ holding out what its run held
// out (the seed in its header; an imported or initialised checkpoint has none: 0), its classes
// labelled by the checkpoint's names (a folder renamed since keeps its classes).
DataOptions checkpoint_data_options(const CheckpointInfo& info,
                                    const std::function<void(const std::string&)>& warn = nullptr);

// What to say when a run's checkpoint is measured on `data`, loaded as `now`, and the files there
// are not those the run trained on (`then`, its run.json's data_files: files added, removed,
// renamed since): empty when they are, or when the run recorded none.
std::string other_files_note(const std::string& run, const std::string& data, const std::optional<DataIdentity>& then,
                             const Dataset& now);

// The data set `config.data` names, loaded with training_data_options.
Dataset load_training_data(const TrainConfig& config, const InputRequest& asked,
                           const std::function<void(const std::string&)>& warn = nullptr);

// `config` with the model's classes, channels and input size taken from `data` where not asked,
// validated (UsageError naming what does not fit).
TrainConfig fit_to_data(TrainConfig config, const Dataset& data, const InputRequest& asked = {});

// Intra-op threads a config asks for: its `threads`, or one per core this process may use when 0.
int resolved_threads(int threads);

// A new run in `run_dir` (UsageError if it holds one). Throws RunError when the loss or the
// weights become NaN or infinite (the last good checkpoint stays), InputError for bad data.
// `data`, when given, is config.data already loaded (a folder without val/ held out with another
// seed than the run's is loaded again). The run records the threads it ran on.
// With `group`, this process is one rank of a data-parallel job (DESIGN §6): `config.batch` is the
// global batch, rank 0 alone writes `run_dir`, and every rank must call with the same config.
TrainSummary train(const std::string& run_dir, const TrainConfig& config, const TrainCallbacks& callbacks,
                   WorkControl& control, const Dataset* data = nullptr, ProcessGroup* group = nullptr);

// What a resume may change; everything else is the run's recorded configuration.
struct ResumeOptions {
  std::optional<int64_t> steps, epochs;  // the new total length (default: the run's own)
  std::optional<int> threads;            // default: the threads the run recorded
  std::optional<std::string> device;     // default: the run's
  std::optional<std::string> data;       // the run's data set at another place (the same kind: folder:DIR …)
};

// Records `data`, the run's data set at a new place (the same kind, else UsageError), in its
// run.json, under its lock (UsageError while another process writes the run).
void record_data_place(const std::string& run_dir, const std::string& data);

// Continues a run from checkpoints/last.safetensors, dropping metrics rows written after that
// checkpoint; a run that stopped before its first checkpoint trains again from step 0 (said
// through on_message). An override that changes the arithmetic (threads, device) is reported through
// on_message: the weights will then not be bitwise those of an uninterrupted run; so are data
// that changed since the run last trained on it (run.json's data_files).
TrainSummary resume(const std::string& run_dir, const ResumeOptions& options, const TrainCallbacks& callbacks,
                    WorkControl& control, ProcessGroup* group = nullptr);

}  // namespace gex
