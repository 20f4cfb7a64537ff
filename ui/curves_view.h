// The Curves view: every checked run overlaid, training loss per step and train/val top-1 error
// per epoch, smoothed, with best-epoch markers, log scale, hover readout and export.
#pragma once

#include <QStringList>
#include <QWidget>

#include "message_bar.h"

class QCheckBox;
class QLabel;
class QSlider;

namespace gex::ui {

class CurvePlot;
class RunCatalog;
struct RunRecord;
struct Series;

// The curves of a run, in the run's colour: its training loss by step, and its train and val
// top-1 error (%) by epoch.
std::vector<Series> loss_series(const RunRecord& run);
std::vector<Series> error_series(const RunRecord& run);

class CurvesView : public QWidget {
  Q_OBJECT

 public:
  CurvesView(RunCatalog* catalog, QWidget* parent = nullptr);
  void setRuns(const QStringList& paths);
  const QStringList& runs() const { return m_runs; }
  CurvePlot* lossPlot() const { return m_loss; }
  CurvePlot* errorPlot() const { return m_error; }
  QSlider* smoothingSlider() const { return m_smoothing; }
  // Export as the menu does once a file is chosen; a message says where it went, or what failed.
  bool exportImage(CurvePlot* plot, const QString& path);
  bool exportCsv(const QString& path);  // both plots' points: run,series,x,y
  QCheckBox* logScaleBox() const { return m_log; }

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);

 private:
  void refresh();
  void chooseImageFile(CurvePlot* plot, const QString& what);
  void chooseCsvFile();
  RunCatalog* m_catalog;
  QStringList m_runs;
  CurvePlot* m_loss;
  CurvePlot* m_error;
  QSlider* m_smoothing;
  QLabel* m_smoothingLabel;
  QCheckBox* m_log;
};

}  // namespace gex::ui
