// A study's analyses, variant by variant, as the analysis views show a checked group: the class
// selectivity of all its runs' units and its runs' pruning curves, each run measured at its best
// checkpoint over the first N test images. What a run's analyses/ already holds (the application's
// cache, or an earlier call) is read; what is missing is computed and written there under the
// application's names, so that the views open it at once. Or, as the views' timeline pools a
// group, at one step of training: the runs' probes there, read as recorded (nothing computed).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "analysis/pooling.h"
#include "control.h"
#include "data/data_identity.h"
#include "sharding.h"

namespace gex {

struct StudyAnalysesOptions {
  int64_t limit = 2000;  // the first N test images (the Selectivity and Pruning views' default)
  std::string block;     // pruning: a block (layer3.2) or a stage (layer3); empty: selectivity only
  std::vector<std::string> orders = {"csi-desc", "random"};
  int repeats = 3;         // of the random order, as the views draw it
  std::string data;        // another place of the runs' data set (empty: each run's own)
  std::string device = "cpu";
  // ≥ 0: each run's probe at this step instead of its best checkpoint (its images and one random
  // order, as recorded); a run not probed there is left out of its variant.
  int64_t step = -1;
  // Data-parallel: this process's share of every pass (the figures are the whole split's), and
  // whether it writes (rank 0 alone); every process calls with the same options.
  Shard shard;
  bool write = true;
  // Data-parallel: called on every process with each data set it loads (--data, what it held), to
  // refuse processes that see other files under one name (check_same_data); unset for one process.
  std::function<void(const std::string&, const DataIdentity&)> check_data;
  const WorkControl* control = nullptr;
  std::function<void(const std::string&)> on_message;      // what is read, computed, left out
  std::function<void(int64_t, int64_t)> progress;         // images of the pass under way
};

struct PooledSelectivity {
  std::string variant;
  int runs = 0;  // pooled
  std::vector<LayerCsi> layers;
};

struct PooledCurve {
  std::string variant, order;
  int runs = 0;
  std::map<double, std::vector<double>> errors;  // ratio → one top-1 error per run
};

struct StudyAnalyses {
  std::vector<PooledSelectivity> selectivity;  // in the study's variant order
  std::vector<PooledCurve> pruning;            // by order, then variant
  std::vector<std::string> computed;           // files written
  std::vector<std::string> left_out;           // runs not probed at the step (or without its curve)
  int64_t limit = 0;                           // the first N test images measured; 0: all of them
  int repeats = 0;                             // of the random order, per run
};

// InputError naming DIR when it is not a study's folder or a run's checkpoint or cached file is
// unreadable; UsageError for an unknown order or a block the network does not have, or a step no
// run was probed at (or whose probes hold no curve of the block), naming what there is. Returns
// early (with what it had) when cancelled; nothing half-computed is written.
StudyAnalyses study_analyses(const std::string& dir, const StudyAnalysesOptions& options);

}  // namespace gex
