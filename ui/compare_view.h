// The Compare view: a baseline and a GE run on one screen — a table of parameters, MACs, best
// error and images/s; their error curves; their selectivity per block (median and quartiles);
// and their pruning curves for the block picked in the selectivity panel (linked).
#pragma once

#include <QPointer>
#include <QWidget>

#include <map>
#include <vector>

#include "analysis_cache.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QTableWidget;

namespace gex::ui {

class CurvePlot;
class JobBar;
class RunCatalog;

class CompareView : public QWidget {
  Q_OBJECT

 public:
  CompareView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~CompareView() override;
  void setPair(const QString& baseline, const QString& ge);
  void setBlock(const QString& block);
  bool isBusy() const;
  QTableWidget* table() const { return m_table; }

 Q_SIGNALS:
  void message(const QString& text);

 protected:
  // Analyses run when the view is on screen, not for views nobody looks at.
  void showEvent(QShowEvent* e) override;

 private:
  bool m_stale = false;
  void refreshRuns();
  void refresh();
  void analyse();
  void drawSelectivity();
  void drawPruning();
  QString runAt(int side) const;
  RunCatalog* m_catalog;
  QComboBox *m_runs[2], *m_block;
  QTableWidget* m_table;
  CurvePlot* m_curves;
  QCustomPlot *m_selectivity, *m_pruning;
  JobBar* m_jobs;
  std::vector<LayerSelectivity> m_csi[2];
  std::vector<PruningPoint> m_prune[2];
};

}  // namespace gex::ui
