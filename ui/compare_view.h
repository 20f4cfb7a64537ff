// The Compare view: a baseline and a GE run on one screen — a table of parameters, MACs, best
// error and images/s with the GE − baseline difference; their error curves; their selectivity
// per block (median and quartiles); and their pruning curves for the block picked in the
// selectivity panel (linked). Runs with probes are shown at the timeline's epoch, both at the
// same point of training whatever their batch size. A side may be a study's group: its curves are
// the runs' mean with a band, the table then lists every variant of the study (mean ± sd, the
// paired difference to the baseline with its 95 % interval, in words), and the panels analyse the
// group's first run.
#pragma once

#include <QWidget>

#include <vector>

#include "analysis_store.h"
#include "message_bar.h"

class QComboBox;
class QCustomPlot;
class QLabel;
class QTableWidget;

namespace gex::ui {

class CurvePlot;
class JobBar;
class ModelInfoCache;
class ProbeTimeline;
class RunCatalog;

class CompareView : public QWidget {
  Q_OBJECT

 public:
  CompareView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent = nullptr);
  ~CompareView() override;
  // Runs' paths or groups' keys.
  void setPair(const QString& baseline, const QString& ge);
  QString choice(int side) const;  // 0: baseline, 1: GE: a run's path or a group's key
  QString run(int side) const;     // the run the panels analyse: the chosen one, or its group's first
  QLabel* differenceWords() const { return m_words; }
  QComboBox* bandBox() const { return m_band; }
  void setBlock(const QString& block);
  bool isBusy() const;
  QTableWidget* table() const { return m_table; }
  CurvePlot* curves() const { return m_curves; }
  QCustomPlot* selectivityPlot() const { return m_selectivity; }
  QCustomPlot* pruningPlot() const { return m_pruning; }
  ProbeTimeline* timeline() const { return m_timeline; }
  const std::vector<LayerSelectivity>& selectivity(int side) const { return m_csi[side]; }
  const std::vector<PruningPoint>& pruning(int side) const { return m_prune[side]; }

  static constexpr int kLimit = 1000;  // test images for the panels' analyses

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);

 protected:
  // Analyses run when the view is on screen, not for views nobody looks at.
  void showEvent(QShowEvent* e) override;

 private:
  void refreshRuns();
  void refresh();
  void fillTable();
  void fillStudyTable(const QString& study);
  void refreshBlocks();
  void analyse();
  void drawSelectivity();
  void drawPruning();
  QColor sideColour(int side) const;  // the chosen group's colour, or the run's
  QString legendName(int side) const;  // the run of a side, as the panels' legends name it
  RunCatalog* m_catalog;
  ModelInfoCache* m_models;
  AnalysisStore* m_store;
  QComboBox *m_runs[2], *m_block, *m_band;
  QLabel* m_words;
  QTableWidget* m_table;
  CurvePlot* m_curves;
  QCustomPlot *m_selectivity, *m_pruning;
  JobBar* m_jobs;
  ProbeTimeline* m_timeline;
  std::vector<LayerSelectivity> m_csi[2];
  std::vector<PruningPoint> m_prune[2];
  bool m_stale = false;
};

}  // namespace gex::ui
