#include "analysis/pooling.h"

#include <algorithm>

namespace gex {

std::vector<LayerCsi> pool_selectivity(const std::vector<std::vector<LayerCsi>>& runs) {
  std::vector<LayerCsi> pooled;
  if (runs.empty()) return pooled;
  pooled = runs.front();
  for (size_t r = 1; r < runs.size(); ++r)
    for (auto& layer : pooled)
      for (const auto& other : runs[r])
        if (other.layer == layer.layer) layer.csi.insert(layer.csi.end(), other.csi.begin(), other.csi.end());
  return pooled;
}

std::map<double, double> mean_by_ratio(const std::vector<RatioError>& curve) {
  std::map<double, std::pair<double, int>> sums;
  for (const auto& p : curve) sums[p.ratio].first += p.top1_error, ++sums[p.ratio].second;
  std::map<double, double> mean;
  for (const auto& [ratio, sum] : sums) mean[ratio] = sum.first / sum.second;
  return mean;
}

std::map<double, std::vector<double>> pool_pruning(const std::vector<std::vector<RatioError>>& runs) {
  std::vector<std::map<double, double>> curves;
  for (const auto& curve : runs) curves.push_back(mean_by_ratio(curve));
  std::map<double, std::vector<double>> pooled;
  if (curves.empty()) return pooled;
  for (const auto& [ratio, unused] : curves.front()) {
    if (!std::all_of(curves.begin(), curves.end(), [ratio = ratio](const auto& c) { return c.count(ratio) > 0; }))
      continue;
    for (const auto& c : curves) pooled[ratio].push_back(c.at(ratio));
  }
  return pooled;
}

}  // namespace gex
