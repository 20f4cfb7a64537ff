// The Curves view: every checked run overlaid, training loss per step and train/val top-1 error
// per epoch, smoothed, with best-epoch markers, log scale, hover readout and export; every checked
// group of a study as its runs' mean with a band (min–max or ± sd).
#pragma once

#include <QStringList>
#include <QWidget>

#include <map>
#include <vector>

#include "message_bar.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QSlider;

namespace gex::ui {

class CurvePlot;
class RunCatalog;
struct RunGroup;
struct RunRecord;
struct Series;

// A group's band: the runs' range, or the mean ± their standard deviation (n − 1).
enum class BandKind { kMinMax, kSd };

// The mean and band over `curves` (x → y each) at the x every curve has, as the series `name`
// of `group`.
Series group_series(const QString& group, const QString& name, const QColor& colour,
                    const std::vector<std::map<double, double>>& curves, BandKind band);
// "3 runs", "1 run"; "2 of 3 runs" where `of` (the runs there are) is more than `runs`.
QString runs_words(size_t runs, size_t of = 0);
// "mean, min–max of 3 runs", "mean ± sd of 2 of 3 runs", "1 run", "no point yet".
QString band_words(BandKind band, size_t runs, size_t of = 0);

// The curves of a run, in the run's colour: its training loss by step, and its train and val
// top-1 error (%) by epoch.
std::vector<Series> loss_series(const RunRecord& run);
std::vector<Series> error_series(const RunRecord& run);
// The same for a group: the mean over its runs at each step (epoch) every one of them has, with
// the band; train error dashed, without a band.
std::vector<Series> group_loss_series(const RunGroup& group, const std::vector<const RunRecord*>& runs, BandKind band);
std::vector<Series> group_error_series(const RunGroup& group, const std::vector<const RunRecord*>& runs,
                                       BandKind band);

class CurvesView : public QWidget {
  Q_OBJECT

 public:
  CurvesView(RunCatalog* catalog, QWidget* parent = nullptr);
  void setRuns(const QStringList& paths);
  const QStringList& runs() const { return m_runs; }
  void setGroups(const QStringList& keys);
  const QStringList& groups() const { return m_groups; }
  QComboBox* bandBox() const { return m_band; }
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
  QStringList m_runs, m_groups;
  QComboBox* m_band;
  CurvePlot* m_loss;
  CurvePlot* m_error;
  QSlider* m_smoothing;
  QLabel* m_smoothingLabel;
  QCheckBox* m_log;
};

}  // namespace gex::ui
