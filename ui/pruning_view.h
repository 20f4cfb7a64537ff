// The Pruning view: top-1 error against the fraction of a block's (or stage's) channels zeroed,
// by the orders of GE-SPEC §6, for the checked runs overlaid; curves grow as each ratio finishes,
// the random order shows its mean with a min–max band; results are cached per run. A checked study
// group is drawn as its runs' mean curve with their min–max band (pooled_analyses.h).
#pragma once

#include <QStringList>
#include <QWidget>

#include <map>
#include <vector>

#include "analysis_store.h"
#include "message_bar.h"
#include "pooled_analyses.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;

namespace gex::ui {

class JobBar;
class ModelInfoCache;
class ProbeTimeline;
class RunCatalog;

class PruningView : public QWidget {
  Q_OBJECT

 public:
  PruningView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent = nullptr);
  ~PruningView() override;
  // Runs' paths and groups' keys: a group is drawn as its runs' mean with their min–max.
  void setRuns(const QStringList& keys);
  void setBlock(const QString& block);
  void setOrders(const QStringList& orders);
  void setLimit(int images);
  void compute();  // Compute: what is missing, failed or cancelled included
  bool isBusy() const;
  // (run or group, order) → points measured so far (a group's: each run's mean as one repeat).
  const std::map<std::pair<QString, QString>, std::vector<PruningPoint>>& curves() const { return m_curves; }
  QCustomPlot* plot() const { return m_plot; }
  QComboBox* blockBox() const { return m_block; }
  JobBar* jobBar() const { return m_jobs; }
  ProbeTimeline* timeline() const { return m_timeline; }
  // (run or group, order) → the last probe's curve, drawn faint behind the curve at an earlier step.
  const std::map<std::pair<QString, QString>, std::vector<PruningPoint>>& finalCurves() const { return m_final; }

  static QStringList orderNames();

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);
  void dataMissing(const QString& run, const QString& place);  // see AnalysisStore

 protected:
  // Analyses run when the view is on screen, not for views nobody looks at.
  void showEvent(QShowEvent* e) override;

 private:
  void refreshBlocks();
  void load();
  void redraw(const std::vector<Shown>& shownRuns);  // what load() read, for the runs it looked up
  QStringList orders() const;
  RunCatalog* m_catalog;
  ModelInfoCache* m_models;
  AnalysisStore* m_store;
  QStringList m_runs;  // runs' paths and groups' keys
  QComboBox* m_block;
  std::map<QString, QCheckBox*> m_orders;
  QCustomPlot* m_plot;
  JobBar* m_jobs;
  std::map<std::pair<QString, QString>, std::vector<PruningPoint>> m_curves, m_final;
  ProbeTimeline* m_timeline;
  // A probe's prune-<block>.csv by order; false when the probe has none for the block.
  using Curves = std::map<QString, std::vector<PruningPoint>>;
  bool probeCurves(const QString& dir, const QString& block, Curves& into);
  std::map<std::pair<QString, QString>, int> m_pooled;  // runs drawn, per key of m_curves
  bool m_stale = true;
};

}  // namespace gex::ui
