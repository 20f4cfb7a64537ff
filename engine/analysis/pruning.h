// Feature importance by pruning (GE-SPEC §6): zero a fraction r of a block's output channels
// (or of every block of a stage), ranked by a criterion, and measure the whole network's error.
#pragma once

#include "control.h"

#include <functional>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "data/preprocess.h"
#include "models/network.h"
#include "sharding.h"

namespace gex {

struct PruneOptions {
  std::vector<std::string> blocks;  // block paths pruned together (one block, or a stage)
  std::string label;                // the `layer` column: the block path or "layerK"
  // csi-desc | csi-asc | act-desc | act-asc | l1-desc | l1-asc | gate-desc | gate-asc | random
  std::string order = "csi-desc";
  std::vector<double> ratios = {0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0};
  int repeats = 1;  // random order only
  uint64_t seed = 0;
  int64_t limit = 0;
  int64_t batch = 256;
  int64_t cache_bytes = int64_t{1} << 30;  // above this the block inputs are recomputed per ratio
  torch::Device device = torch::kCPU;
  const WorkControl* control = nullptr;  // cancel, checked between batches
  Shard shard;  // data-parallel: this process's share of every pass; the curve is the whole split's
  // On a GPU, full batches' passes as one CUDA graph for all ratios (the masks are device tensors
  // the graph reads; no effect on the CPU).
  bool cuda_graph = true;
  std::function<void(const std::string&)> on_message;  // a capture that failed, said once
};

struct PruneRow {
  std::string layer, order;
  double ratio = 0;
  int repeat = 0;
  double top1_error = 0, top5_error = 0;
};

bool is_prune_order(const std::string& order);
// UsageError for an order, a ratio or a block that cannot work on `net`: checked before any data is read.
void check_prune_options(NetworkImpl& net, const PruneOptions& options);

// Rows in ratio order (and repeat order for `random`); `on_row` sees each as it is measured.
std::vector<PruneRow> pruning_curve(NetworkImpl& net, const Split& split, const Preprocess& preprocess,
                                    const PruneOptions& options,
                                    const std::function<void(const PruneRow&)>& on_row = nullptr);

// CSV `layer,order,ratio,repeat,top1_error,top5_error`, atomically.
void write_pruning_csv(const std::string& path, const std::vector<PruneRow>& rows);
// Such a CSV read back; InputError naming the file and line when it is not one.
std::vector<PruneRow> read_pruning_csv(const std::string& path);
// The name the application caches a run's curve under in RUN/analyses/best-step-S/:
// pruning-BLOCK-ORDER-test-N.csv.
std::string pruning_file(const std::string& block, const std::string& order, int64_t limit);
// The blocks a name prunes together: the block itself (layer3.2) or every block of a stage (layer3),
// in the network's order; empty when the network has none of that name.
std::vector<std::string> blocks_named(NetworkImpl& net, const std::string& name);
// Its blocks for a message: "layer1.0, layer1.1, …".
std::string block_list(NetworkImpl& net);

}  // namespace gex
