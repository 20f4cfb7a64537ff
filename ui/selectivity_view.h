// The Selectivity view: the class selectivity index (GE-SPEC §6) of every unit, as one box per
// block and run, ordered by depth, for the checked runs side by side; computed in the background
// and cached in each run's analyses/; click a block for its histogram.
#pragma once

#include <QPointer>
#include <QStringList>
#include <QWidget>

#include <map>
#include <vector>

#include "analysis_cache.h"

class QCustomPlot;
class QLabel;
class QProgressBar;
class QSpinBox;

namespace gex::ui {

class JobBar;
class RunCatalog;

class SelectivityView : public QWidget {
  Q_OBJECT

 public:
  SelectivityView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~SelectivityView() override;
  void setRuns(const QStringList& paths);
  void showHistogram(int layer);
  void setLimit(int images);
  void compute() { load(); }
  bool isBusy() const;
  // Per run (in setRuns order), the layers drawn.
  const std::map<QString, std::vector<LayerSelectivity>>& data() const { return m_data; }
  QCustomPlot* boxPlot() const { return m_boxes; }

 Q_SIGNALS:
  void message(const QString& text);

 protected:
  // Analyses run when the view is on screen, not for views nobody looks at.
  void showEvent(QShowEvent* e) override;

 private:
  bool m_stale = false;
  void load();
  void redraw();
  RunCatalog* m_catalog;
  QStringList m_runs;
  std::map<QString, std::vector<LayerSelectivity>> m_data;
  QCustomPlot *m_boxes, *m_histogram;
  JobBar* m_jobs;
  int m_histLayer = -1;
};

}  // namespace gex::ui
