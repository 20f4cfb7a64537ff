// The extent-ratio study (GE-SPEC §6): the same network trained with e = 2, 4, 8, global and as
// the baseline (e = 1), one run directory each under OUT/, then a table of accuracy against e.
// Resumable: finished runs are kept, interrupted ones resume from their last checkpoint; a folder
// that holds another run is refused, one that never reached a checkpoint is moved aside.
#pragma once

#include <string>
#include <vector>

#include "train/trainer.h"

namespace gex {

struct SweepRow {
  std::string extent;  // "1" (the baseline), "2", "4", "8", "global"
  std::string run;
  int64_t params = 0, macs = 0;
  double final_top1_error = 1, best_top1_error = 1;
  bool finished = false;
};

// `config` is the run to repeat (its attention must be GE); `extents` the GE extents (0 = global).
// Writes OUT/sweep.csv (`extent,params,macs,final_top1_error,best_top1_error,run`) after each run.
std::vector<SweepRow> extent_sweep(const std::string& out_dir, const TrainConfig& config, const std::vector<int>& extents,
                                   bool with_baseline, const TrainCallbacks& callbacks, WorkControl& control,
                                   const Dataset* data = nullptr);

}  // namespace gex
