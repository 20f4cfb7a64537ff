// The Selectivity view: the class selectivity index (GE-SPEC §6) of every unit, as one box per
// block and run, ordered by depth, for the checked runs side by side; computed in the background
// when the view is shown and cached in each run's analyses/; click a block for its histogram.
// A run with probes is shown at the timeline's step, and "over training" maps the median
// selectivity of each block (rows) at each probe (columns), runs side by side on one colour scale.
// A checked study group is one box per block of all its runs' units (pooled_analyses.h).
#pragma once

#include <QHash>
#include <QStringList>
#include <QWidget>

#include <map>
#include <vector>

#include "analysis_store.h"
#include "file_stamp.h"
#include "message_bar.h"
#include "pooled_analyses.h"

class QCustomPlot;

namespace gex::ui {

class JobBar;
class ProbeTimeline;
class RunCatalog;

class SelectivityView : public QWidget {
  Q_OBJECT

 public:
  SelectivityView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~SelectivityView() override;
  // Runs' paths and groups' keys: a group is drawn as its runs pooled (pooled_analyses.h).
  void setRuns(const QStringList& keys);
  void showHistogram(int layer);
  void setLimit(int images);
  void compute();  // Compute: what is missing, failed or cancelled included
  bool isBusy() const;
  // Per run or group, the layers drawn (a group's: its runs' units together).
  const std::map<QString, std::vector<LayerSelectivity>>& data() const { return m_data; }
  int pooledRuns(const QString& group) const { return m_pooled.count(group) ? m_pooled.at(group) : 0; }
  QCustomPlot* boxPlot() const { return m_boxes; }
  QCustomPlot* histogramPlot() const { return m_histogram; }
  QCustomPlot* overTrainingPlot() const { return m_overTraining; }
  ProbeTimeline* timeline() const { return m_timeline; }
  // Per run or group drawn over training: the median CSI per block (outer) per probe (inner).
  const std::map<QString, std::vector<std::vector<double>>>& overTraining() const { return m_medians; }
  JobBar* jobBar() const { return m_jobs; }

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);
  void dataMissing(const QString& run, const QString& place);  // see AnalysisStore

 protected:
  // Analyses run when the view is on screen, not for views nobody looks at.
  void showEvent(QShowEvent* e) override;

 private:
  void load();
  // Drawing what load() read, for the runs and groups it looked up.
  void redraw(const std::vector<Shown>& shownRuns);
  void drawOverTraining(const std::vector<Shown>& shownRuns);
  void drawHistogram(int layer, const std::vector<Shown>& shownRuns);
  QString overTrainingHint(const std::vector<Shown>& shownRuns) const;  // what to do when nothing is drawn over training
  // A probe's selectivity.csv, read once.
  const std::vector<LayerSelectivity>* probeSelectivity(const QString& csv);
  RunCatalog* m_catalog;
  AnalysisStore* m_store;
  QStringList m_runs;  // runs' paths and groups' keys
  std::map<QString, std::vector<LayerSelectivity>> m_data;
  std::map<QString, int> m_pooled;  // runs drawn, per key of m_data
  QCustomPlot *m_boxes, *m_histogram, *m_overTraining;
  struct ProbeFile {
    FileStamp stamp;  // when read: a run resumed on another number of processes records a probe again
    std::vector<LayerSelectivity> layers;
  };
  QHash<QString, ProbeFile> m_probeCache;  // selectivity.csv path → its layers
  std::map<QString, std::vector<std::vector<double>>> m_medians;
  // Over training: each run's label, centred under its columns [lo, hi] (plot coordinates), and
  // elided to their width in pixels whenever the plot is laid out.
  struct RunLabel {
    double centre, lo, hi;
    QString name;
  };
  std::vector<RunLabel> m_runLabels;
  void fitRunLabels();
  JobBar* m_jobs;
  ProbeTimeline* m_timeline;
  int m_histLayer = -1;
  bool m_stale = false;
};

}  // namespace gex::ui
