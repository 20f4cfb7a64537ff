// Class selectivity (Morcos et al. 2018; GE-SPEC §6) of every channel of every residual block's
// output (after the block's final ReLU, spatially averaged), over a labelled split, in one pass.
#pragma once

#include "control.h"

#include <functional>
#include <string>
#include <vector>

#include "analysis/pooling.h"
#include "data/dataset.h"
#include "data/preprocess.h"
#include "models/network.h"
#include "sharding.h"

namespace gex {

struct UnitSelectivity {
  std::string layer;  // block module path, e.g. layer3.2
  int unit = 0;       // channel
  double csi = 0;
  int max_class = 0;  // index of the class with the largest mean activation
  double mean_activation = 0;  // over all images
};

struct SelectivityOptions {
  int64_t limit = 0;  // first N images of the split; 0: all
  int64_t batch = 256;
  torch::Device device = torch::kCPU;
  const WorkControl* control = nullptr;  // cancel, checked between batches
  std::function<void(int64_t done, int64_t total)> progress;
  Shard shard;  // data-parallel: this process's share; the result is the whole split's
  bool cuda_graph = true;  // on a GPU, full batches' forward passes as a CUDA graph (no effect on the CPU)
  std::function<void(const std::string&)> on_message;  // a capture that failed, said once
};

struct SelectivityResult {
  std::vector<std::string> layers;  // in depth order
  std::vector<UnitSelectivity> units;
  int64_t images = 0;
  double top1_error = 0;  // of the network over the same images (the pass computes the logits anyway)
};

// CSI = (μ_max − μ_−max) / (μ_max + μ_−max) from per-class means (0 when both are 0); μ_−max is
// the mean of the other classes' means.
double class_selectivity_index(const std::vector<double>& class_means, int* max_class = nullptr);

SelectivityResult class_selectivity(NetworkImpl& net, const Split& split, const Preprocess& preprocess,
                                    const SelectivityOptions& options);

// CSV `layer,unit,csi,max_class,mean_activation`, atomically.
void write_selectivity_csv(const std::string& path, const SelectivityResult& result);
// Such a CSV read back (layers in file order; `images` and `top1_error` are not in it). InputError
// naming the file and line when it is not one.
SelectivityResult read_selectivity_csv(const std::string& path);
// The units' CSIs layer by layer, in the result's layer order (what pooling takes).
std::vector<LayerCsi> csi_by_layer(const SelectivityResult& result);
// The name the application caches a run's selectivity under in RUN/analyses/best-step-S/ (the
// first `limit` test images): selectivity-test-N.csv.
std::string selectivity_file(int64_t limit);

}  // namespace gex
