// A study group's analyses put together, as the analysis views draw a checked group and `gex study
// --analyses` reports it: the class selectivity of all its runs' units, block by block, and its
// pruning curve as one point per run and ratio.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace gex {

struct LayerCsi {
  std::string layer;
  std::vector<double> csi;  // one per unit
};

// The runs' units together, layer by layer, in the first run's layer order.
std::vector<LayerCsi> pool_selectivity(const std::vector<std::vector<LayerCsi>>& runs);

struct RatioError {
  double ratio = 0;
  double top1_error = 0;
};

// ratio → the mean top-1 error of a curve's points there (its repeats).
std::map<double, double> mean_by_ratio(const std::vector<RatioError>& curve);

// ratio → one error per run (each run's repeats averaged), at the ratios every run has: the mean
// of those is the group's curve and their min–max its band.
std::map<double, std::vector<double>> pool_pruning(const std::vector<std::vector<RatioError>>& runs);

}  // namespace gex
