#include "pooled_analyses.h"

#include <QFileInfo>

#include <algorithm>

#include "curves_view.h"
#include "plot_style.h"
#include "run_catalog.h"

namespace gex::ui {

bool has_probes(const RunRecord& run) { return QFileInfo::exists(run.path + QStringLiteral("/probes/index.csv")); }

std::vector<Shown> shown_of(const RunCatalog& catalog, const QStringList& keys) {
  std::vector<Shown> shown;
  for (const QString& key : keys) {
    Shown s;
    s.key = key;
    if ((s.group = catalog.findGroup(key))) {
      for (const RunRecord* r : catalog.runsOf(*s.group))
        if (r->hasCheckpoint()) s.runs.push_back(r);
      s.probed = !s.runs.empty() && std::all_of(s.runs.begin(), s.runs.end(), [](auto* r) { return has_probes(*r); });
    } else if (const RunRecord* r = catalog.find(key)) {
      s.runs.push_back(r);
    } else {
      continue;
    }
    shown.push_back(std::move(s));
  }
  return shown;
}

QColor colour_of(const Shown& shown) {
  if (shown.group) return run_color(shown.group->colour);
  return run_color(shown.runs.empty() ? 0 : shown.runs.front()->colour);
}

QString name_of(const Shown& shown, size_t pooled) {
  if (shown.group) return QStringLiteral("%1 (%2)").arg(shown.group->name, runs_words(pooled, shown.runs.size()));
  return shown.runs.empty() ? shown.key : shown.runs.front()->name;
}

QString short_name_of(const Shown& shown) {
  if (shown.group) return shown.group->name;
  return shown.runs.empty() ? shown.key : shown.runs.front()->shortName();
}

QStringList timeline_runs(const std::vector<Shown>& shown) {
  QStringList runs;
  for (const Shown& s : shown)
    for (const RunRecord* r : s.runs)
      if ((!s.group || s.probed || !has_probes(*r)) && !runs.contains(r->path)) runs << r->path;
  return runs;
}

std::vector<LayerSelectivity> pool_selectivity(const std::vector<std::vector<LayerSelectivity>>& runs) {
  std::vector<LayerSelectivity> pooled;
  if (runs.empty()) return pooled;
  pooled = runs.front();
  for (size_t r = 1; r < runs.size(); ++r)
    for (auto& layer : pooled)
      for (const auto& other : runs[r])
        if (other.layer == layer.layer) layer.csi.insert(layer.csi.end(), other.csi.begin(), other.csi.end());
  return pooled;
}

std::map<double, double> mean_by_ratio(const std::vector<PruningPoint>& points) {
  std::map<double, std::pair<double, int>> sums;
  for (const auto& p : points) sums[p.ratio].first += p.top1_error, ++sums[p.ratio].second;
  std::map<double, double> mean;
  for (const auto& [ratio, sum] : sums) mean[ratio] = sum.first / sum.second;
  return mean;
}

std::vector<PruningPoint> pool_pruning(const std::vector<std::vector<PruningPoint>>& runs) {
  std::vector<std::map<double, double>> curves;
  for (const auto& points : runs) curves.push_back(mean_by_ratio(points));
  std::vector<PruningPoint> pooled;
  if (curves.empty()) return pooled;
  for (const auto& [ratio, unused] : curves.front()) {
    if (!std::all_of(curves.begin(), curves.end(), [ratio = ratio](const auto& c) { return c.count(ratio) > 0; }))
      continue;
    for (size_t r = 0; r < curves.size(); ++r)
      pooled.push_back({ratio, int(r), curves[r].at(ratio), runs[r].front().order});
  }
  return pooled;
}

}  // namespace gex::ui
