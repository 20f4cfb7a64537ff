// The Compare view: a baseline and a GE run on one screen — a table of parameters, MACs, best
// error and images/s with the GE − baseline difference; their error curves; their selectivity
// per block (median and quartiles); and their pruning curves for the block picked in the
// selectivity panel (linked). Runs with probes are shown at the timeline's epoch, both at the
// same point of training whatever their batch size. A side may be a study's group: its curves are
// the runs' mean with a band, the table then lists every variant of the study (mean ± sd, the
// paired difference to the baseline with its 95 % interval, in words), and the panels pool its
// runs: the selectivity of their units together, the mean pruning curve with the band — at the
// timeline's epoch where every run of the group has probes, else at their best checkpoints.
#pragma once

#include <QWidget>

#include <map>
#include <optional>
#include <vector>

#include "analysis_store.h"
#include "curves_view.h"
#include "message_bar.h"
#include "pooled_analyses.h"

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
struct RunRecord;

class CompareView : public QWidget {
  Q_OBJECT

 public:
  CompareView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent = nullptr);
  ~CompareView() override;
  // Runs' paths or groups' keys.
  void setPair(const QString& baseline, const QString& ge);
  QString choice(int side) const;  // 0: baseline, 1: GE: a run's path or a group's key
  QString run(int side) const;     // the chosen run, or its group's first with a checkpoint
  // The runs the panels pool: the chosen one, or its group's runs with a checkpoint.
  std::vector<const RunRecord*> panelRuns(int side) const;
  int pooledRuns(int side) const { return m_pooled[side].selectivity; }  // of panelRuns(side), those drawn
  QLabel* differenceWords() const { return m_words; }
  QComboBox* bandBox() const { return m_band; }
  void setBlock(const QString& block);
  void retry();  // the analyses that failed or were not started, again
  bool isBusy() const;
  QTableWidget* table() const { return m_table; }
  CurvePlot* curves() const { return m_curves; }
  QCustomPlot* selectivityPlot() const { return m_selectivity; }
  QCustomPlot* pruningPlot() const { return m_pruning; }
  ProbeTimeline* timeline() const { return m_timeline; }
  const std::vector<LayerSelectivity>& selectivity(int side) const { return m_csi[side]; }
  // A group's: the mean of its runs' curves at each ratio every one of them has.
  const std::vector<PruningPoint>& pruning(int side) const { return m_prune[side]; }

  static constexpr int kLimit = 1000;  // test images for the panels' analyses

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);
  void dataMissing(const QString& run, const QString& place);  // see AnalysisStore

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
  // A side as the panels' legends name it: the run, or the group with the runs pooled (`band`:
  // how the pruning panel shows their spread; none for the selectivity panel).
  QString legendName(int side, std::optional<BandKind> band = std::nullopt) const;
  Shown shown(int side) const;
  // One run's selectivity and pruning curve (ratio → top-1 error, its repeats averaged): from its
  // probe directory, or (none given) its best checkpoint's analyses, asked of the store.
  struct RunAnalyses {
    std::vector<LayerSelectivity> csi;
    std::map<double, double> curve;
  };
  RunAnalyses analysesOf(const RunRecord& run, const QString& probe, const QString& block);
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
  std::vector<double> m_pruneLow[2], m_pruneHigh[2];  // a group's band (top-1 error, as m_prune)
  struct Pooled {
    int selectivity = 0, pruning = 0;  // runs drawn in each panel
  } m_pooled[2];
  bool m_stale = false;
};

}  // namespace gex::ui
