// How every plot of the application looks and behaves: the system palette (followed when it
// changes at run time), the legend in its own row under the axes so it never covers data, a hint
// in place of empty axes, markers on sparse series, and shaded bands.
#pragma once

#include <QColor>
#include <QString>
#include <QStringList>
#include <QVector>

#include <functional>

#include "qcp.h"

namespace gex::ui {

// Background, axes, grid, text and legend from the plot's palette.
void apply_palette(QCustomPlot* plot);
// apply_palette now and whenever the palette changes (light ↔ dark), then `restyle` (for colours
// derived from the palette) and a replot.
void follow_palette(QCustomPlot* plot, std::function<void()> restyle = nullptr);

// The legend in a row of its own under the axis rect, laid out in columns; a name wider than the
// plot is elided in the middle.
void legend_below(QCustomPlot* plot);
// The legend's entry i as it reads on screen (a curve's name, elided where the plot is narrow).
QString legend_entry_text(QCustomPlot* plot, int i);
// A centred hint over the axes instead of an empty plot: shown with text, hidden with an empty
// one. While it shows, the legend and the tick labels are hidden.
void set_hint(QCustomPlot* plot, const QString& text);
QString hint(const QCustomPlot* plot);

// A series with few points (one per epoch) gets a marker on each.
void mark_if_sparse(QCPGraph* graph, int points, const QColor& colour);

// A shaded band between lo and hi (no outline, not in the legend): quartiles, min–max of repeats.
void add_band(QCustomPlot* plot, const QVector<double>& x, const QVector<double>& lo, const QVector<double>& hi,
              QColor colour);

// The letters every block's name starts with ("layer" of "layer3.1", "stage" of "stage2.0"), or
// none: a plot says them once in its axis label, so that its ticks ("3.1") stand level.
QString block_stem(const QStringList& blocks);

// A colour for the run with colour index i (RunRecord::colour): distinct, readable on light and
// dark backgrounds.
QColor run_color(int index);
inline constexpr int kRunColours = 10;  // run_color(i) repeats every kRunColours

}  // namespace gex::ui
