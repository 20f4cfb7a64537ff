// The Curves view: every checked run overlaid, training loss per step and train/val top-1 error
// per epoch, smoothed, with best-epoch markers, log scale, hover readout and export.
#pragma once

#include <QStringList>
#include <QWidget>

class QLabel;
class QSlider;

namespace gex::ui {

class CurvePlot;
class RunCatalog;
struct RunRecord;
struct Series;

// The curves of a run: its training loss by step, and its train and val top-1 error (%) by epoch.
std::vector<Series> loss_series(const RunRecord& run, int colourIndex);
std::vector<Series> error_series(const RunRecord& run, int colourIndex);

class CurvesView : public QWidget {
  Q_OBJECT

 public:
  CurvesView(RunCatalog* catalog, QWidget* parent = nullptr);
  void setRuns(const QStringList& paths);
  const QStringList& runs() const { return m_runs; }
  CurvePlot* lossPlot() const { return m_loss; }
  CurvePlot* errorPlot() const { return m_error; }

 Q_SIGNALS:
  void message(const QString& text);

 private:
  void refresh();
  void exportImage(CurvePlot* plot, const QString& what);
  void exportCsv();
  RunCatalog* m_catalog;
  QStringList m_runs;
  CurvePlot* m_loss;
  CurvePlot* m_error;
  QSlider* m_smoothing;
  QLabel* m_smoothingLabel;
};

}  // namespace gex::ui
