#include "selectivity_view.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

#include "curve_plot.h"
#include "job.h"
#include "job_bar.h"
#include "qcp.h"
#include "run_catalog.h"

namespace gex::ui {

namespace {
double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double pos = q * double(v.size() - 1);
  const size_t i = size_t(pos);
  return i + 1 < v.size() ? v[i] + (pos - double(i)) * (v[i + 1] - v[i]) : v[i];
}
}  // namespace

SelectivityView::SelectivityView(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_jobs(new JobBar(QStringLiteral("selectivity/limit"), 2000, this)) {
  m_jobs->setStatus(tr("Check runs in the run browser to compare their selectivity."));
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(m_jobs);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_boxes = new QCustomPlot(split);
  m_histogram = new QCustomPlot(split);
  split->addWidget(m_boxes);
  split->addWidget(m_histogram);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);
  apply_palette(m_boxes);
  apply_palette(m_histogram);
  m_boxes->yAxis->setLabel(tr("class selectivity index"));
  m_boxes->xAxis->setLabel(tr("block (by depth)"));
  m_boxes->legend->setVisible(true);
  m_histogram->xAxis->setLabel(tr("class selectivity index"));
  m_histogram->yAxis->setLabel(tr("units (%)"));
  m_histogram->legend->setVisible(true);
  connect(m_jobs, &JobBar::computeRequested, this, &SelectivityView::load);
  connect(m_jobs, &JobBar::jobFinished, this, [this](bool ok, const QString& error) {
    if (!ok) Q_EMIT message(error);
    if (!m_jobs->isBusy()) load();
  });
  connect(m_boxes, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable*, int, QMouseEvent* e) {
    showHistogram(int(std::lround(m_boxes->xAxis->pixelToCoord(e->position().x()))));
  });
}

SelectivityView::~SelectivityView() = default;

bool SelectivityView::isBusy() const { return m_jobs->isBusy(); }

void SelectivityView::setLimit(int images) { m_jobs->setLimit(images); }

void SelectivityView::setRuns(const QStringList& paths) {
  m_runs = paths;
  load();
}

void SelectivityView::load() {
  if (!isVisible()) {
    m_stale = true;
    return;
  }
  m_stale = false;
  m_data.clear();
  for (const QString& path : m_runs) {
    const RunRecord* r = m_catalog->find(path);
    if (!r || !r->hasCheckpoint()) continue;
    const QString csv = analysis_path(*r, selectivity_file(m_jobs->limit()));
    if (QFileInfo::exists(csv)) {
      QString error;
      m_data[path] = read_selectivity(csv, &error);
      if (!error.isEmpty()) Q_EMIT message(error);
      continue;
    }
    if (m_jobs->isHandled(csv)) continue;
    const RunRecord run = *r;
    const int limit = m_jobs->limit();
    m_jobs->run(new Job(tr("selectivity %1").arg(r->name), [run, limit, csv](Job& job) { compute_selectivity(run, limit, csv, job); }),
                csv);
  }
  if (!m_jobs->isBusy() && !m_data.empty())
    m_jobs->setStatus(tr("%1 test images; cached in each run's analyses/. Click a box for its histogram.").arg(m_jobs->limit()));
  redraw();
}

void SelectivityView::redraw() {
  m_boxes->clearPlottables();
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  const int n = int(m_data.size());
  int k = 0, layers = 0;
  for (const QString& path : m_runs) {
    auto it = m_data.find(path);
    if (it == m_data.end()) continue;
    const RunRecord* r = m_catalog->find(path);
    auto* box = new QCPStatisticalBox(m_boxes->xAxis, m_boxes->yAxis);
    box->setName(r ? r->name : path);
    const QColor colour = run_color(k);
    box->setPen(QPen(colour, 1.2));
    QColor fill = colour;
    fill.setAlpha(60);
    box->setBrush(fill);
    box->setWidth(0.8 / std::max(1, n));
    box->setMedianPen(QPen(colour.darker(150), 2));
    box->setOutlierStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, 3));
    const auto& data = it->second;
    for (int l = 0; l < int(data.size()); ++l) {
      const auto& v = data[l].csi;
      const double q1 = quantile(v, 0.25), q3 = quantile(v, 0.75), iqr = q3 - q1;
      std::vector<double> outliers;
      double lo = q3, hi = q1;
      for (double x : v) {
        if (x < q1 - 1.5 * iqr || x > q3 + 1.5 * iqr) outliers.push_back(x);
        else lo = std::min(lo, x), hi = std::max(hi, x);
      }
      const double key = l + (k - (n - 1) / 2.0) * 0.8 / std::max(1, n);
      box->addData(key, lo, q1, quantile(v, 0.5), q3, hi, QVector<double>(outliers.begin(), outliers.end()));
      ticker->addTick(l, data[l].layer);
    }
    layers = std::max(layers, int(data.size()));
    ++k;
  }
  m_boxes->xAxis->setTicker(ticker);
  m_boxes->xAxis->setTickLabelRotation(layers > 8 ? 45 : 0);
  m_boxes->xAxis->setRange(-0.6, std::max(1, layers) - 0.4);
  m_boxes->yAxis->setRange(-0.02, 1.02);
  replot_if_shown(m_boxes);
  showHistogram(m_histLayer < 0 ? layers - 1 : std::min(m_histLayer, layers - 1));
}

void SelectivityView::showHistogram(int layer) {
  m_histLayer = layer;
  m_histogram->clearPlottables();
  constexpr int kBins = 20;
  int k = 0;
  QString name;
  for (const QString& path : m_runs) {
    auto it = m_data.find(path);
    if (it == m_data.end() || layer < 0 || layer >= int(it->second.size())) continue;
    const auto& v = it->second[layer].csi;
    name = it->second[layer].layer;
    QVector<double> keys(kBins), counts(kBins, 0);
    for (int b = 0; b < kBins; ++b) keys[b] = (b + 0.5) / kBins;
    for (double x : v) counts[std::clamp(int(x * kBins), 0, kBins - 1)] += 100.0 / double(v.size());
    auto* graph = m_histogram->addGraph();
    graph->setLineStyle(QCPGraph::lsStepCenter);
    const QColor colour = run_color(k);
    graph->setPen(QPen(colour, 1.6));
    const RunRecord* r = m_catalog->find(path);
    graph->setName(r ? r->name : path);
    graph->setData(keys, counts);
    ++k;
  }
  if (!name.isEmpty()) {
    m_histogram->xAxis->setLabel(tr("class selectivity index in %1").arg(name));
    m_histogram->rescaleAxes();
    m_histogram->xAxis->setRange(0, 1);
    m_histogram->yAxis->setRange(0, m_histogram->yAxis->range().upper * 1.15);
  }
  replot_if_shown(m_histogram);
}

void SelectivityView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (m_stale) load();
}

}  // namespace gex::ui
