#include "curve_plot.h"

#include <QFileInfo>
#include <QSaveFile>
#include <QSvgGenerator>
#include <QTextStream>

#include <algorithm>
#include <cmath>
#include <limits>

#include "qcp.h"

namespace gex::ui {

std::vector<double> smooth_ema(const std::vector<double>& y, double a) {
  std::vector<double> out(y.size());
  double s = 0, weight = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    s = a * s + (1 - a) * y[i];
    weight = a * weight + (1 - a);  // = 1 − a^(i+1)
    out[i] = weight > 0 ? s / weight : y[i];
  }
  return out;
}

CurvePlot::CurvePlot(QCustomPlot* plot, const QString& xLabel, const QString& yLabel)
    : QObject(plot), m_plot(plot) {
  m_plot->xAxis->setLabel(xLabel);
  m_plot->yAxis->setLabel(yLabel);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  m_plot->legend->setVisible(true);
  legend_below(m_plot);
  // The raw curves' tint mixes the colour into the background: rebuilt when the palette changes.
  follow_palette(m_plot, [this] {
    rebuildGraphs();
    m_hover->setColor(m_plot->palette().color(QPalette::WindowText));
    QColor brush = m_plot->palette().color(QPalette::Base);
    brush.setAlpha(225);
    m_hover->setBrush(brush);
  });
  m_replot.setSingleShot(true);
  m_replot.setInterval(50);
  connect(&m_replot, &QTimer::timeout, this, [this] {
    if (!m_userZoomed && !m_series.empty()) fitAxes();
    replot_if_shown(m_plot);
  });
  // Zoom and pan are the user's until a double click gives the view back to the data.
  connect(m_plot, &QCustomPlot::mousePress, this, [this] { m_userZoomed = true; });
  connect(m_plot, &QCustomPlot::mouseWheel, this, [this] { m_userZoomed = true; });
  connect(m_plot, &QCustomPlot::mouseDoubleClick, this, [this] {
    m_userZoomed = false;
    replotSoon();
  });
  m_hover = new QCPItemText(m_plot);
  m_hover->setPositionAlignment(Qt::AlignLeft | Qt::AlignTop);
  m_hover->position->setType(QCPItemPosition::ptAxisRectRatio);
  m_hover->position->setCoords(0.01, 0.01);
  m_hover->setTextAlignment(Qt::AlignLeft);
  m_hover->setPadding(QMargins(4, 2, 4, 2));
  QColor hoverBrush = m_plot->palette().color(QPalette::Base);
  hoverBrush.setAlpha(225);
  m_hover->setBrush(hoverBrush);
  m_hover->setColor(m_plot->palette().color(QPalette::WindowText));
  m_hover->setVisible(false);
  m_plot->setMouseTracking(true);
  connect(m_plot, &QCustomPlot::mouseMove, this, [this](QMouseEvent* e) {
    hoverAt(m_plot->xAxis->pixelToCoord(e->position().x()), m_plot->yAxis->pixelToCoord(e->position().y()));
  });
}

void CurvePlot::setTitle(const QString& title) {
  if (auto* t = qobject_cast<QCPTextElement*>(m_plot->plotLayout()->element(0, 0))) {
    t->setText(title);
    return;
  }
  m_plot->plotLayout()->insertRow(0);
  auto* text = new QCPTextElement(m_plot, title, QFont(m_plot->font().family(), 10, QFont::Bold));
  text->setTextColor(m_plot->palette().color(QPalette::WindowText));
  m_plot->plotLayout()->addElement(0, 0, text);
}

void CurvePlot::setIdleHint(const QString& text) {
  m_idleHint = text;
  showHint();
  replotSoon();
}

void CurvePlot::setWaitingHint(const QString& text) {
  m_waitingHint = text;
  showHint();
  replotSoon();
}

void CurvePlot::showHint() {
  const bool points = std::any_of(m_series.begin(), m_series.end(), [](const Series& s) { return !s.x.empty(); });
  set_hint(m_plot, m_series.empty() ? m_idleHint : points ? QString() : m_waitingHint);
}

void CurvePlot::setSeries(std::vector<Series> series) {
  m_series = std::move(series);
  rebuildGraphs();
}

void CurvePlot::rebuildGraphs() {
  m_plot->clearGraphs();
  m_raw.clear();
  m_smooth.clear();
  m_best.clear();
  m_low.clear();
  m_high.clear();
  m_ema.assign(m_series.size(), {});
  const QColor background = m_plot->palette().color(QPalette::Base);
  for (size_t i = 0; i < m_series.size(); ++i) {
    const auto& s = m_series[i];
    // The raw curve in an opaque tint of the colour: translucent strokes over a long series
    // cost a blend per pixel, and 1-px cosmetic pens keep the rasteriser on its fast path.
    const QColor faint = QColor::fromRgbF(0.3 * s.color.redF() + 0.7 * background.redF(),
                                          0.3 * s.color.greenF() + 0.7 * background.greenF(),
                                          0.3 * s.color.blueF() + 0.7 * background.blueF());
    // A group's band under its curves: a light fill between the lower and upper graphs (short
    // series only; over thousands of steps the two edges alone, as fills cost a blend per pixel).
    QCPGraph *low = nullptr, *high = nullptr;
    if (!s.low.empty() && s.low.size() == s.x.size() && s.high.size() == s.x.size()) {
      low = m_plot->addGraph();
      high = m_plot->addGraph();
      QPen edge(faint, 1);
      edge.setCosmetic(true);
      for (auto* g : {low, high}) {
        g->setPen(edge);
        g->removeFromLegend();
      }
      if (s.x.size() <= 2000) {
        QColor fill = s.color;
        fill.setAlpha(50);
        high->setBrush(fill);
        high->setChannelFillGraph(low);
      }
    }
    m_low.push_back(low);
    m_high.push_back(high);
    auto* raw = m_plot->addGraph();
    QPen rawPen(faint, 1);
    rawPen.setCosmetic(true);
    raw->setPen(rawPen);
    raw->removeFromLegend();
    auto* smooth = m_plot->addGraph();
    QPen pen(s.color, 1.5);
    if (s.dashed) pen.setStyle(Qt::DashLine);
    smooth->setPen(pen);
    smooth->setName(s.legendLabel.isEmpty() ? s.run + QStringLiteral(" · ") + s.name : s.legendLabel);
    if (!s.inLegend) smooth->removeFromLegend();
    auto* best = m_plot->addGraph();
    best->setLineStyle(QCPGraph::lsNone);
    best->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, s.color, s.color, 8));
    best->removeFromLegend();
    m_raw.push_back(raw);
    m_smooth.push_back(smooth);
    m_best.push_back(best);
    refreshSmoothed(int(i));
  }
  showHint();
  replotSoon();
}

void CurvePlot::styleForLength(int i) {
  // One point per epoch is read point by point: a marker on each.
  mark_if_sparse(m_smooth[i], int(m_series[i].x.size()), m_series[i].color);
  // Antialiasing a curve of many thousand points buys nothing visible and costs most of a replot.
  const bool longSeries = m_series[i].x.size() > 20000;
  m_raw[i]->setAntialiased(!longSeries);
  m_smooth[i]->setAntialiased(!longSeries);
  if (longSeries) {
    QPen pen = m_smooth[i]->pen();
    pen.setWidthF(1);
    pen.setCosmetic(true);
    m_smooth[i]->setPen(pen);
  }
}

void CurvePlot::append(int index, const std::vector<double>& x, const std::vector<double>& y) {
  if (index < 0 || index >= int(m_series.size()) || x.empty()) return;
  auto& s = m_series[index];
  const size_t n = std::min(x.size(), y.size());
  s.x.insert(s.x.end(), x.begin(), x.begin() + n);
  s.y.insert(s.y.end(), y.begin(), y.begin() + n);
  // Only the new points go to the graphs, the smoothing continues from where it stood.
  QVector<double> keys(x.begin(), x.begin() + n), raw(y.begin(), y.begin() + n);
  QVector<double> smoothed(static_cast<qsizetype>(n));
  auto& e = m_ema[index];
  for (size_t k = 0; k < n; ++k) {
    e.s = m_smoothing * e.s + (1 - m_smoothing) * y[k];
    e.weight = m_smoothing * e.weight + (1 - m_smoothing);
    smoothed[int(k)] = e.weight > 0 ? e.s / e.weight : y[k];
  }
  m_raw[index]->addData(keys, raw, true);
  m_smooth[index]->addData(keys, smoothed, true);
  if (s.markBest) {
    const auto it = std::min_element(s.y.begin(), s.y.end());
    m_best[index]->data()->clear();
    m_best[index]->addData(s.x[it - s.y.begin()], *it);
  }
  styleForLength(index);
  if (!hint(m_plot).isEmpty()) showHint();  // the first point: the waiting hint goes
  replotSoon();
}

void CurvePlot::refreshSmoothed(int i) {
  const auto& s = m_series[i];
  const QVector<double> keys(s.x.begin(), s.x.end());
  const QVector<double> values(s.y.begin(), s.y.end());
  m_raw[i]->setData(keys, values, true);
  m_raw[i]->setVisible(m_smoothing > 0);
  const auto smoothed = smooth_ema(s.y, m_smoothing);
  m_smooth[i]->setData(keys, QVector<double>(smoothed.begin(), smoothed.end()), true);
  // Where the smoothing stands, so appends continue it: weight = 1 − aⁿ, s = shown · weight.
  Ema e;
  if (!smoothed.empty()) {
    e.weight = 1 - std::pow(m_smoothing, double(smoothed.size()));
    e.s = smoothed.back() * e.weight;
  }
  m_ema[i] = e;
  if (m_low[i]) {  // the band follows the curve's smoothing
    const auto low = smooth_ema(s.low, m_smoothing), high = smooth_ema(s.high, m_smoothing);
    m_low[i]->setData(keys, QVector<double>(low.begin(), low.end()), true);
    m_high[i]->setData(keys, QVector<double>(high.begin(), high.end()), true);
  }
  m_best[i]->data()->clear();
  if (s.markBest && !s.y.empty()) {
    const auto it = std::min_element(s.y.begin(), s.y.end());
    m_best[i]->addData(s.x[it - s.y.begin()], *it);
  }
  styleForLength(i);
}

int CurvePlot::pointCount(int index) const {
  return index >= 0 && index < int(m_raw.size()) ? m_raw[index]->data()->size() : 0;
}

std::pair<std::vector<double>, std::vector<double>> CurvePlot::band(int index) const {
  std::pair<std::vector<double>, std::vector<double>> out;
  if (index < 0 || index >= int(m_low.size()) || !m_low[index]) return out;
  for (auto it = m_low[index]->data()->constBegin(); it != m_low[index]->data()->constEnd(); ++it)
    out.first.push_back(it->value);
  for (auto it = m_high[index]->data()->constBegin(); it != m_high[index]->data()->constEnd(); ++it)
    out.second.push_back(it->value);
  return out;
}

void CurvePlot::setSmoothing(double a) {
  m_smoothing = std::clamp(a, 0.0, 0.999);
  for (size_t i = 0; i < m_series.size(); ++i) refreshSmoothed(int(i));
  replotSoon();
}

void CurvePlot::setLogScale(bool on) {
  m_plot->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
  if (on) m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
  else m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
  m_userZoomed = false;
  replotSoon();
}

void CurvePlot::fitAxes() {
  m_plot->rescaleAxes(true);
  double xMin = std::numeric_limits<double>::infinity(), yMin = xMin, xMax = -xMin, yMax = -xMin;
  for (const auto& s : m_series) {
    for (double v : s.x) xMin = std::min(xMin, v), xMax = std::max(xMax, v);
    for (const auto* ys : {&s.y, &s.low, &s.high})
      for (double v : *ys) yMin = std::min(yMin, v), yMax = std::max(yMax, v);
  }
  // One value, or values an ulp apart (a first loss and its smoothed copy): QCustomPlot keeps the
  // axis's old width around it (an epoch axis 0 … 2.6 for a first evaluation at epoch 0.13), or a
  // range 2e-16 wide; give it room in proportion to the value instead.
  const auto aroundLoneValue = [](QCPAxis* axis, double low, double high) {
    const double center = (low + high) / 2;
    if (axis->scaleType() != QCPAxis::stLinear || !std::isfinite(center) ||
        high - low >= 1e-9 * std::max(1.0, std::abs(center)))
      return;
    const double room = std::max(0.5, std::abs(center) / 2);
    axis->setRange(center - room, center + room);
  };
  aroundLoneValue(m_plot->xAxis, xMin, xMax);
  aroundLoneValue(m_plot->yAxis, yMin, yMax);
  if (m_plot->yAxis->scaleType() == QCPAxis::stLinear) {
    const auto r = m_plot->yAxis->range();
    m_plot->yAxis->setRange(r.lower - 0.04 * r.size(), r.upper + 0.04 * r.size());
  }
  // The room around a lone value near zero (a first evaluation at epoch 0.13) reaches below zero;
  // steps, epochs, losses and errors are never negative, so an axis whose data are not negative
  // does not start below zero.
  const auto notBelowZero = [](QCPAxis* axis, double dataMin) {
    const auto r = axis->range();
    if (axis->scaleType() == QCPAxis::stLinear && dataMin >= 0 && std::isfinite(dataMin) && r.lower < 0 &&
        r.upper > 0)
      axis->setRange(0, r.upper);
  };
  notBelowZero(m_plot->xAxis, xMin);
  notBelowZero(m_plot->yAxis, yMin);
}

void CurvePlot::replotSoon() {
  if (!m_replot.isActive()) m_replot.start();
}

void CurvePlot::hoverAt(double x, double y) {
  struct Line {
    double distance;  // from the pointer, in pixels
    QString text;
  };
  std::vector<Line> lines;
  for (size_t i = 0; i < m_series.size(); ++i) {
    const auto& s = m_series[i];
    if (s.x.empty()) continue;
    // A run that ends before the pointer (or starts after it) has no value there: its last point
    // would read as one "at 300" among runs at step 1,880.
    const double outside = x < s.x.front() ? s.x.front() - x : x > s.x.back() ? x - s.x.back() : 0;
    if (std::abs(m_plot->xAxis->coordToPixel(x + outside) - m_plot->xAxis->coordToPixel(x)) > 8) continue;
    const auto it = std::lower_bound(s.x.begin(), s.x.end(), x);
    size_t k = std::min<size_t>(it - s.x.begin(), s.x.size() - 1);
    if (k > 0 && std::abs(s.x[k - 1] - x) < std::abs(s.x[k] - x)) --k;
    const auto data = m_smooth[i]->data();
    const double shown = k < size_t(data->size()) ? (data->constBegin() + k)->value : s.y[k];
    const double distance = std::isnan(y) ? 0 : std::abs(m_plot->yAxis->coordToPixel(shown) - m_plot->yAxis->coordToPixel(y));
    lines.push_back({distance, QStringLiteral("%1 · %2: %3 at %4").arg(s.run, s.name).arg(shown, 0, 'g', 4).arg(s.x[k], 0, 'g', 5)});
  }
  // Dozens of runs checked: the readout keeps to 60 % of the axes' height, with the curves
  // nearest the pointer.
  const int room = std::max(3, int(0.6 * m_plot->axisRect()->height() / QFontMetrics(m_hover->font()).height()));
  QStringList text;
  if (int(lines.size()) > room) {
    std::stable_sort(lines.begin(), lines.end(), [](const Line& a, const Line& b) { return a.distance < b.distance; });
    for (int i = 0; i < room - 1; ++i) text << lines[size_t(i)].text;
    text << tr("… and %1 more").arg(lines.size() - size_t(room - 1));
  } else {
    for (const Line& l : lines) text << l.text;
  }
  m_hover->setText(text.join(QLatin1Char('\n')));
  m_hover->setVisible(!text.isEmpty());
  replot_if_shown(m_plot);
}

QString CurvePlot::hoverText() const { return m_hover->visible() ? m_hover->text() : QString(); }

bool CurvePlot::exportImage(const QString& path, QString* error) const {
  const QString suffix = QFileInfo(path).suffix().toLower();
  const bool hover = m_hover->visible();
  m_hover->setVisible(false);
  bool ok = false;
  const int w = std::max(m_plot->width(), 900), h = std::max(m_plot->height(), 560);
  if (suffix == QLatin1String("png")) {
    ok = m_plot->savePng(path, w, h, 2.0);
  } else if (suffix == QLatin1String("pdf")) {
    ok = m_plot->savePdf(path, w, h);
  } else if (suffix == QLatin1String("svg")) {
    QSvgGenerator svg;
    svg.setFileName(path);
    svg.setSize(QSize(w, h));
    svg.setViewBox(QRect(0, 0, w, h));
    QCPPainter painter;
    ok = painter.begin(&svg);
    if (ok) {
      m_plot->toPainter(&painter, w, h);
      ok = painter.end();
    }
  } else {
    if (error) *error = tr("%1: unknown image type (png, svg or pdf)").arg(path);
    m_hover->setVisible(hover);
    return false;
  }
  m_hover->setVisible(hover);
  if (!ok && error) *error = tr("%1: could not be written").arg(path);
  return ok;
}

bool CurvePlot::exportCsv(const QString& path, QString* error) const {
  QSaveFile file(path);  // atomic: written to a temporary and renamed
  if (!file.open(QIODevice::WriteOnly | QIODevice::Text)) {
    if (error) *error = tr("%1: %2").arg(path, file.errorString());
    return false;
  }
  QTextStream out(&file);
  out << "run,series,x,y\n";
  const auto rows = [&out](const QString& run, const QString& name, const std::vector<double>& x,
                           const std::vector<double>& y) {
    for (size_t k = 0; k < x.size() && k < y.size(); ++k)
      out << run << ',' << name << ',' << QString::number(x[k], 'g', 10) << ',' << QString::number(y[k], 'g', 10)
          << '\n';
  };
  for (const auto& s : m_series) {
    rows(s.run, s.name, s.x, s.y);
    if (!s.low.empty()) {  // a group's band as two more series
      rows(s.run, s.name + QStringLiteral(" (band low)"), s.x, s.low);
      rows(s.run, s.name + QStringLiteral(" (band high)"), s.x, s.high);
    }
  }
  out.flush();
  if (!file.commit()) {
    if (error) *error = tr("%1: %2").arg(path, file.errorString());
    return false;
  }
  return true;
}

}  // namespace gex::ui
