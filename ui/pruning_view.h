// The Pruning view: top-1 error against the fraction of a block's (or stage's) channels zeroed,
// by the orders of GE-SPEC §6, for the checked runs overlaid; curves grow as each ratio finishes,
// the random order shows its mean with a min–max band; results are cached per run.
#pragma once

#include <QPointer>
#include <QStringList>
#include <QWidget>

#include <map>
#include <vector>

#include "analysis_cache.h"

class QCheckBox;
class QComboBox;
class QCustomPlot;
class QLabel;
class QProgressBar;
class QSpinBox;

namespace gex::ui {

class JobBar;
class RunCatalog;

class PruningView : public QWidget {
  Q_OBJECT

 public:
  PruningView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~PruningView() override;
  void setRuns(const QStringList& paths);
  void setBlock(const QString& block);
  void setOrders(const QStringList& orders);
  void setLimit(int images);
  void compute() { load(); }
  bool isBusy() const;
  // (run, order) → points measured so far.
  const std::map<std::pair<QString, QString>, std::vector<PruningPoint>>& curves() const { return m_curves; }
  QCustomPlot* plot() const { return m_plot; }

 Q_SIGNALS:
  void message(const QString& text);

 protected:
  // First shown with runs and nothing computed: draw the default orders, so the view has content.
  void showEvent(QShowEvent* e) override;

 private:
  bool m_stale = true;
  void refreshBlocks();
  void load();
  void redraw();
  QStringList orders() const;
  RunCatalog* m_catalog;
  QStringList m_runs;
  QComboBox* m_block;
  std::map<QString, QCheckBox*> m_orders;
  QCustomPlot* m_plot;
  JobBar* m_jobs;
  std::map<std::pair<QString, QString>, std::vector<PruningPoint>> m_curves;
};

}  // namespace gex::ui
