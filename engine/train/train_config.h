// Everything a training run is made of (the `trainer` metadata and run.json): model, data,
// schedule and optimiser settings. Plain data; JSON both ways.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_spec.h"

namespace gex {

struct TrainConfig {
  ModelSpec model;
  std::string data = "fashion-mnist";
  int64_t epochs = 0;  // the length: epochs, or
  int64_t steps = 0;   // steps (wins when both are set)
  int64_t batch = 128;
  double lr = 0.1;
  std::string schedule = "multistep";  // multistep | cosine | constant
  std::vector<double> milestones = {0.5, 0.75};  // multistep: fractions of the run
  double gamma = 0.1;
  int64_t warmup_steps = 0;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 1e-4;
  uint64_t seed = 0;
  std::string device = "auto";  // auto | cpu | cuda | cuda:K
  int threads = 0;              // 0: one per core
  int64_t cache_mb = 512;       // folders: decoded images kept in memory (the rest streamed)
  int loader_threads = 0;       // folders: decoding threads; 0: as many as `threads`
  std::string augment = "auto";  // auto (per data set) | on | off
  std::string amp = "auto";      // bf16 mixed precision on CUDA: auto (= on for CUDA) | on | off
  std::string cuda_graph = "auto";  // the training step as a CUDA graph: auto (= where it can) | on | off
  int64_t checkpoint_every = 0;  // steps; 0: every evaluation only
  int64_t eval_every = 0;        // steps; 0: every epoch
  int64_t eval_limit = 0;        // evaluate on the first N test images; 0: all
  int64_t log_every = 20;        // steps between train rows in metrics.csv
  std::string init_from;         // a checkpoint whose weights (not optimiser) the run starts from
  bool freeze_backbone = false;  // train only the attention modules and the head (BN statistics frozen)
  bool sync_bn = false;          // data-parallel: BatchNorm statistics over every process's share
  int dist_timeout = 60;         // data-parallel: seconds before a silent peer counts as lost
  // Probes (DESIGN §6): analyses recorded as the run trains.
  bool probes = true;
  int64_t probe_every = 0;                // steps; 0: at the end of every epoch (and always at the last step)
  std::vector<std::string> probe_images;  // image files or folders (absolute) beside the test images
  int64_t probe_limit = 1000;             // selectivity over the first N test images; 0: all
  std::string probe_prune;                // a block whose pruning curve each probe records; empty: none
  std::string keep_checkpoints = "probes";  // probes | all | none: checkpoints/step-N kept beside last and best

  std::string to_json() const;
  // InputError naming `source` when the text does not describe a run.
  static TrainConfig from_json(const std::string& text, const std::string& source);
  // UsageError when a value cannot work.
  void validate() const;
  // The same for all but the model, whose channels, classes and size may still come from the data:
  // checked before a data set is loaded (a big folder takes a while).
  void validate_settings() const;
  // UsageError when neither --steps nor --epochs gives the run a length (a config read back may have none).
  void require_length() const;
};

// Steps of an epoch over `train_size` images in batches of `batch` (the last batch may be short).
int64_t steps_per_epoch(int64_t train_size, int64_t batch);
// The run's length in steps: --steps, else --epochs of `train_size` images.
int64_t planned_steps(const TrainConfig& config, int64_t train_size);

// The learning rate at `step` of `total` under the config's schedule and warm-up.
double learning_rate(const TrainConfig& config, int64_t step, int64_t total);

}  // namespace gex
