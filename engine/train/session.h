// One session of a run, inside the trainer: from the step it starts at to the end of the run or a
// cancel. train() and resume() prepare where it starts; the session trains, evaluates, records
// probes and checkpoints. Not part of the engine's interface.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "analysis/probe.h"
#include "data/preprocess.h"
#include "io/safetensors.h"
#include "models/network.h"
#include "train/run_dir.h"
#include "train/trainer.h"

namespace gex {

// Where a run starts from: nothing (a new run) or its last checkpoint.
struct StartState {
  Preprocess preprocess;
  Network net;
  int64_t step = 0;
  double wall_seconds = 0;  // training seconds of earlier sessions
  std::optional<EvalReport> best, last_eval;
  TensorList optimizer_state;
  std::vector<ProbeImage> probe_images;  // the writer's; the other processes record no gates
  // The last step of the schedule the checkpoint was written under (a resume may lengthen it): a probe was due there.
  int64_t plan_total = 0;
};

// Trains `start` on `data` to the end of `config`'s schedule; `run` is the directory rank 0 writes
// (empty on the other ranks), `group` the process group of a data-parallel run (null for one process).
TrainSummary run_session(std::optional<RunDirectory> run, const std::string& run_dir, const TrainConfig& config,
                         const Dataset& data, StartState start, torch::Device device, const TrainCallbacks& callbacks,
                         WorkControl& control, ProcessGroup* group);

}  // namespace gex
