// qcustomplot.h uses Qt's keyword macros (signals, foreach), which QT_NO_KEYWORDS turns off
// (needed because LibTorch has a member named `slots`). Include QCustomPlot through this header.
#pragma once

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach

// Hidden plots (other tabs) skip replots; the main window replots a view's plots when it is shown.
inline void replot_if_shown(QCustomPlot* plot) {
  if (plot->isVisible()) plot->replot(QCustomPlot::rpQueuedReplot);
}

// Plots follow the system palette (light or dark): background, axes, grid, text and legend.
inline void apply_palette(QCustomPlot* plot) {
  const QPalette p = plot->palette();
  const QColor text = p.color(QPalette::WindowText), base = p.color(QPalette::Base);
  QColor grid = text;
  grid.setAlpha(45);
  plot->setBackground(base);
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) {
    axis->setBasePen(QPen(text, 1));
    axis->setTickPen(QPen(text, 1));
    axis->setSubTickPen(QPen(text, 1));
    axis->setTickLabelColor(text);
    axis->setLabelColor(text);
    axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    axis->grid()->setZeroLinePen(Qt::NoPen);
  }
  QColor legend = base;
  legend.setAlpha(220);
  plot->legend->setBrush(legend);
  plot->legend->setTextColor(text);
  plot->legend->setBorderPen(QPen(text, 1));
}

// A shaded band between lo and hi (no outline, not in the legend): quartiles, min–max of repeats.
inline void add_band(QCustomPlot* plot, const QVector<double>& x, const QVector<double>& lo,
                     const QVector<double>& hi, QColor colour) {
  auto* low = plot->addGraph();
  auto* high = plot->addGraph();
  for (QCPGraph* g : {low, high}) {
    g->setPen(Qt::NoPen);
    g->removeFromLegend();
  }
  low->setData(x, lo, true);
  high->setData(x, hi, true);
  colour.setAlpha(45);
  high->setBrush(colour);
  high->setChannelFillGraph(low);
}
