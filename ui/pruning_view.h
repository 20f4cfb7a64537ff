// The Pruning view: top-1 error against the fraction of a block's (or stage's) channels zeroed,
// by the orders of GE-SPEC §6, for the checked runs overlaid; curves grow as each ratio finishes,
// the random order shows its mean with a min–max band; results are cached per run.
#pragma once

#include <QStringList>
#include <QWidget>

#include <map>
#include <vector>

#include "analysis_store.h"
#include "message_bar.h"

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
  void setRuns(const QStringList& paths);
  void setBlock(const QString& block);
  void setOrders(const QStringList& orders);
  void setLimit(int images);
  void compute();  // Compute: what is missing, failed or cancelled included
  bool isBusy() const;
  // (run, order) → points measured so far.
  const std::map<std::pair<QString, QString>, std::vector<PruningPoint>>& curves() const { return m_curves; }
  QCustomPlot* plot() const { return m_plot; }
  QComboBox* blockBox() const { return m_block; }
  JobBar* jobBar() const { return m_jobs; }
  ProbeTimeline* timeline() const { return m_timeline; }
  // (run, order) → the run's last probe's curve, drawn faint behind the curve at the timeline's step.
  const std::map<std::pair<QString, QString>, std::vector<PruningPoint>>& finalCurves() const { return m_final; }

  static QStringList orderNames();

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);

 protected:
  // Analyses run when the view is on screen, not for views nobody looks at.
  void showEvent(QShowEvent* e) override;

 private:
  void refreshBlocks();
  void load();
  void redraw();
  QStringList orders() const;
  RunCatalog* m_catalog;
  ModelInfoCache* m_models;
  AnalysisStore* m_store;
  QStringList m_runs;
  QComboBox* m_block;
  std::map<QString, QCheckBox*> m_orders;
  QCustomPlot* m_plot;
  JobBar* m_jobs;
  std::map<std::pair<QString, QString>, std::vector<PruningPoint>> m_curves, m_final;
  ProbeTimeline* m_timeline;
  // A probe's prune-<block>.csv by order; false when the probe has none for the block.
  bool probeCurves(const QString& dir, const QString& block, const QString& run,
                   std::map<std::pair<QString, QString>, std::vector<PruningPoint>>& into);
  bool m_stale = true;
};

}  // namespace gex::ui
