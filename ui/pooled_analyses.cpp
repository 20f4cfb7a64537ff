#include "pooled_analyses.h"

#include <QFileInfo>

#include <algorithm>

#include "analysis/pooling.h"
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

// The engine pools (one rule for the views and gex study --analyses); these convert to its types.
std::vector<LayerSelectivity> pool_selectivity(const std::vector<std::vector<LayerSelectivity>>& runs) {
  std::vector<std::vector<LayerCsi>> csi;
  for (const auto& run : runs) {
    auto& layers = csi.emplace_back();
    for (const auto& l : run) layers.push_back({l.layer.toStdString(), l.csi});
  }
  std::vector<LayerSelectivity> pooled;
  for (auto& l : gex::pool_selectivity(csi)) pooled.push_back({QString::fromStdString(l.layer), std::move(l.csi)});
  return pooled;
}

namespace {
std::vector<RatioError> ratio_errors(const std::vector<PruningPoint>& points) {
  std::vector<RatioError> curve;
  for (const auto& p : points) curve.push_back({p.ratio, p.top1_error});
  return curve;
}
}  // namespace

std::map<double, double> mean_by_ratio(const std::vector<PruningPoint>& points) {
  return gex::mean_by_ratio(ratio_errors(points));
}

std::vector<PruningPoint> pool_pruning(const std::vector<std::vector<PruningPoint>>& runs) {
  std::vector<std::vector<RatioError>> curves;
  for (const auto& points : runs) curves.push_back(ratio_errors(points));
  std::vector<PruningPoint> pooled;
  for (const auto& [ratio, errors] : gex::pool_pruning(curves))
    for (size_t r = 0; r < errors.size(); ++r) pooled.push_back({ratio, int(r), errors[r], runs[r].front().order});
  return pooled;
}

}  // namespace gex::ui
