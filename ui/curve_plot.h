// Binds curves to a QCustomPlot (qt-mvvm style: a test drives it on an unshown plot). Each series
// is drawn raw and faint with its debiased-EMA smoothing on top; new points append in batches and
// the plot replots on a coalescing timer; all points are kept for export, thinning is QCustomPlot's
// adaptive sampling at display time only.
#pragma once

#include <QColor>
#include <QObject>
#include <QString>
#include <QTimer>

#include <limits>
#include <vector>

#include "plot_style.h"

class QCustomPlot;
class QCPGraph;
class QCPItemText;

namespace gex::ui {

struct Series {
  QString run;   // legend group, e.g. the run name
  QString name;  // "train loss", "val top-1"
  QColor color;
  std::vector<double> x, y;
  bool dashed = false;
  bool markBest = false;  // a marker at the minimum
  bool inLegend = true;
  QString legendLabel;  // empty: "run · name"
  std::vector<double> low, high;  // a band around y at the same x (a group's spread); empty: none
};

inline Series make_series(const QString& run, const QString& name, const QColor& color) {
  Series s;
  s.run = run;
  s.name = name;
  s.color = color;
  return s;
}

// Debiased exponential moving average (as TensorBoard): s_t = a·s_{t−1} + (1−a)·y_t, shown as
// s_t / (1 − a^t) so the start is not pulled towards zero. a = 0 returns y.
std::vector<double> smooth_ema(const std::vector<double>& y, double a);

class CurvePlot : public QObject {
  Q_OBJECT

 public:
  CurvePlot(QCustomPlot* plot, const QString& xLabel, const QString& yLabel);

  void setSeries(std::vector<Series> series);
  void append(int index, const std::vector<double>& x, const std::vector<double>& y);
  const std::vector<Series>& series() const { return m_series; }
  void setSmoothing(double a);
  void setLogScale(bool on);
  void setTitle(const QString& title);
  // Shown over the empty axes while there is no series (e.g. "Check runs in the run browser").
  void setIdleHint(const QString& text);
  // Shown while there are series but none has a point yet (a run loading its data, a first epoch).
  void setWaitingHint(const QString& text);
  // Points in the raw graph of series i, as displayed data (for tests).
  int pointCount(int index) const;
  // The band drawn around series i: its lower and upper graphs' values (empty without a band).
  std::pair<std::vector<double>, std::vector<double>> band(int index) const;
  QCustomPlot* plot() const { return m_plot; }

  // PNG, SVG or PDF by suffix, with legend and axis labels; CSV `run,series,x,y` of every point.
  bool exportImage(const QString& path, QString* error) const;
  bool exportCsv(const QString& path, QString* error) const;

  void replotSoon();  // coalesced, ≤ 20 Hz
  // The readout at x (where the pointer is): each series that has data there, its value and x;
  // where they are more than there is room for, those nearest y (the pointer's height) first.
  void hoverAt(double x, double y = std::numeric_limits<double>::quiet_NaN());
  QString hoverText() const;  // empty when hidden

 private:
  void rebuildGraphs();
  void showHint();  // the idle or the waiting hint, or none, by what there is to draw
  void refreshSmoothed(int index);
  void styleForLength(int index);
  void fitAxes();  // the data's extent, kept at or above zero where the data are
  QCustomPlot* m_plot;
  std::vector<Series> m_series;
  std::vector<QCPGraph*> m_raw, m_smooth, m_best;
  std::vector<QCPGraph*> m_low, m_high;  // a series' band, or null
  struct Ema {
    double s = 0, weight = 0;
  };
  std::vector<Ema> m_ema;  // where each series' smoothing stands, so appends continue it
  double m_smoothing = 0.6;
  bool m_userZoomed = false;
  QTimer m_replot;
  QCPItemText* m_hover = nullptr;
  QString m_idleHint, m_waitingHint;
};

}  // namespace gex::ui
