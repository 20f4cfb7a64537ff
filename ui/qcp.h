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
