#include "selectivity_view.h"

#include <QDir>
#include <QSplitter>
#include <QVBoxLayout>

#include <algorithm>

#include "analysis/statistics.h"
#include "job_bar.h"
#include "plot_style.h"
#include "pooled_analyses.h"
#include "probe_timeline.h"
#include "run_catalog.h"

namespace gex::ui {

SelectivityView::SelectivityView(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent),
      m_catalog(catalog),
      m_store(new AnalysisStore(this)),
      m_jobs(new JobBar(QStringLiteral("selectivity/limit"), 2000, this)),
      m_timeline(new ProbeTimeline(catalog, this)) {
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(m_jobs);
  layout->addWidget(m_timeline);
  auto* split = new QSplitter(Qt::Vertical, this);
  m_boxes = new QCustomPlot(split);
  m_histogram = new QCustomPlot(split);
  m_overTraining = new QCustomPlot(split);
  split->addWidget(m_boxes);
  split->addWidget(m_histogram);
  split->addWidget(m_overTraining);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  split->setStretchFactor(2, 2);
  layout->addWidget(split, 1);
  m_overTraining->setMinimumHeight(120);
  connect(m_overTraining, &QCustomPlot::afterLayout, this, &SelectivityView::fitRunLabels);
  m_overTraining->setAutoAddPlottableToLegend(false);  // the colour scale names the values
  m_overTraining->legend->setVisible(false);
  follow_palette(m_overTraining);
  m_overTraining->yAxis->setLabel(tr("block"));
  m_overTraining->xAxis->setLabel(tr("probes through training, per run"));
  m_overTraining->setToolTip(tr("Over training: the median class selectivity of each block (rows, input at the "
                                "bottom) at each probe (columns), runs side by side on one colour scale; the line "
                                "marks the timeline's step"));
  auto* scale = new QCPColorScale(m_overTraining);
  m_overTraining->plotLayout()->addElement(0, 1, scale);
  scale->setLabel(tr("median CSI"));
  QCPColorGradient viridis;  // perceptually uniform, as the Gates view's default colour map
  viridis.setColorStops({{0.0, QColor(68, 1, 84)},     {0.25, QColor(59, 82, 139)}, {0.5, QColor(33, 145, 140)},
                         {0.75, QColor(94, 201, 98)}, {1.0, QColor(253, 231, 37)}});
  scale->setGradient(viridis);
  connect(m_timeline, &ProbeTimeline::stepChanged, this, &SelectivityView::load);
  connect(m_timeline, &ProbeTimeline::probesChanged, this, &SelectivityView::load);
  connect(m_timeline, &ProbeTimeline::message, this, [this](const QString& e) { Q_EMIT message(e); });
  for (auto* plot : {m_boxes, m_histogram}) {
    follow_palette(plot);
    legend_below(plot);
  }
  m_boxes->setMinimumHeight(160);
  m_histogram->setMinimumHeight(120);
  m_boxes->yAxis->setLabel(tr("CSI"));
  m_boxes->xAxis->setLabel(tr("block (by depth)"));
  m_histogram->xAxis->setLabel(tr("class selectivity index"));
  m_histogram->yAxis->setLabel(tr("units (%)"));
  m_boxes->setToolTip(tr("Class selectivity (Morcos et al.) of every channel of each block's output: box = quartiles, "
                         "line = median. Click a block for its histogram."));
  connect(m_jobs, &JobBar::computeRequested, this, &SelectivityView::compute);
  connect(m_jobs, &JobBar::cancelRequested, m_store, &AnalysisStore::cancel);
  connect(m_store, &AnalysisStore::jobStarted, m_jobs, &JobBar::track);
  connect(m_store, &AnalysisStore::failed, this, [this](const QString& e) { Q_EMIT message(e); });
  connect(m_store, &AnalysisStore::warned, this, [this](const QString& w) { Q_EMIT message(w, MessageKind::kWarning); });
  connect(m_store, &AnalysisStore::dataMissing, this, &SelectivityView::dataMissing);
  connect(m_store, &AnalysisStore::changed, this, &SelectivityView::load);
  connect(m_boxes, &QCustomPlot::plottableClick, this, [this](QCPAbstractPlottable*, int, QMouseEvent* e) {
    showHistogram(int(std::lround(m_boxes->xAxis->pixelToCoord(e->position().x()))));
  });
  redraw({});
}

SelectivityView::~SelectivityView() = default;

bool SelectivityView::isBusy() const { return m_store->isBusy(); }

void SelectivityView::setLimit(int images) {
  m_jobs->setLimit(images);
  load();
}

void SelectivityView::setRuns(const QStringList& keys) {
  m_runs = keys;
  m_timeline->setRuns(timeline_runs(shown_of(*m_catalog, keys)));
  load();
}

const std::vector<LayerSelectivity>* SelectivityView::probeSelectivity(const QString& csv) {
  const FileStamp stamp = file_stamp(csv);
  if (auto it = m_probeCache.constFind(csv); it != m_probeCache.constEnd() && it->stamp == stamp) return &it->layers;
  QString error;
  auto layers = read_selectivity(csv, &error);
  if (!error.isEmpty()) {
    Q_EMIT message(error);
    return nullptr;
  }
  return &m_probeCache.insert(csv, {stamp, std::move(layers)})->layers;
}

void SelectivityView::compute() {
  m_store->retry();
  load();
}

void SelectivityView::load() {
  if (!isVisible()) {
    m_stale = true;
    return;
  }
  m_stale = false;
  m_store->dropWaiting();  // asked again below where still shown
  m_data.clear();
  m_pooled.clear();
  const int64_t step = m_timeline->currentStep();
  int probed = 0, best = 0;  // runs drawn from a probe, from their best checkpoint
  const auto shownRuns = shown_of(*m_catalog, m_runs);  // looked up once for the drawing below
  for (const Shown& shown : shownRuns) {
    std::vector<std::vector<LayerSelectivity>> runs;
    for (const RunRecord* r : shown.runs) {
      if (shown.group ? shown.probed : !m_timeline->records(r->path).empty()) {  // the probe at the timeline's step
        const QString dir = shown.group ? m_timeline->exactProbeDir(r->path) : m_timeline->probeDir(r->path, step);
        if (!dir.isEmpty())
          if (const auto* layers = probeSelectivity(QDir(dir).filePath(QStringLiteral("selectivity.csv"))))
            runs.push_back(*layers), ++probed;
        continue;
      }
      if (!r->hasCheckpoint()) continue;
      if (const auto* layers = m_store->selectivity(*r, m_jobs->limit())) runs.push_back(*layers), ++best;
    }
    if (runs.empty()) continue;
    m_pooled[shown.key] = int(runs.size());
    m_data[shown.key] = pool_selectivity(runs);
  }
  if (!m_store->isBusy()) {
    QString status = m_data.empty() ? tr("Check runs with a checkpoint in the run browser to compare their selectivity.")
                                    : tr("%1 test images; cached in each run's analyses/. Click a box for its histogram.")
                                          .arg(m_jobs->limit());
    if (probed > 0)
      status = (best > 0 ? tr("Runs with probes at step %L1 (their probes' test images); the others at their best "
                              "checkpoint.")
                         : tr("At step %L1 (the probes' test images)."))
                   .arg(step);
    m_jobs->setStatus(status);
  }
  redraw(shownRuns);
  drawOverTraining(shownRuns);
}

void SelectivityView::redraw(const std::vector<Shown>& shownRuns) {
  m_boxes->clearPlottables();
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  const int n = int(m_data.size());
  int k = 0, layers = 0;
  QStringList blocks;  // of every run drawn: one stem for all, or none
  for (const auto& [path, data] : m_data)
    for (const auto& l : data) blocks << l.layer;
  const QString stem = block_stem(blocks);
  for (const Shown& shown : shownRuns) {
    auto it = m_data.find(shown.key);
    if (it == m_data.end()) continue;
    auto* box = new QCPStatisticalBox(m_boxes->xAxis, m_boxes->yAxis);
    box->setName(name_of(shown, size_t(m_pooled[shown.key])));
    const QColor colour = colour_of(shown);
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
      const Quartiles q = quartiles(v);
      const double iqr = q.q3 - q.q1;
      std::vector<double> outliers;
      double lo = q.q3, hi = q.q1;  // whiskers: the extremes within 1.5 IQR of the box
      for (double x : v) {
        if (x < q.q1 - 1.5 * iqr || x > q.q3 + 1.5 * iqr) outliers.push_back(x);
        else lo = std::min(lo, x), hi = std::max(hi, x);
      }
      const double key = l + (k - (n - 1) / 2.0) * 0.8 / std::max(1, n);
      box->addData(key, lo, q.q1, q.median, q.q3, hi, QVector<double>(outliers.begin(), outliers.end()));
      ticker->addTick(l, data[l].layer.mid(stem.size()));
    }
    layers = std::max(layers, int(data.size()));
    ++k;
  }
  m_boxes->xAxis->setTicker(ticker);
  m_boxes->xAxis->setTickLabelRotation(layers > 20 ? 45 : 0);
  m_boxes->xAxis->setLabel(stem.isEmpty() ? tr("block (by depth)") : tr("block (%1…, by depth)").arg(stem));
  m_boxes->xAxis->setRange(-0.6, std::max(1, layers) - 0.4);
  m_boxes->yAxis->setRange(-0.02, 1.02);
  set_hint(m_boxes, k > 0 ? QString()
                   : m_store->isBusy() ? tr("Computing class selectivity…")
                                       : tr("Check runs in the run browser to compare their class selectivity"));
  replot_if_shown(m_boxes);
  drawHistogram(m_histLayer < 0 ? layers - 1 : std::min(m_histLayer, layers - 1), shownRuns);
}

void SelectivityView::fitRunLabels() {
  // Each run's name under its own columns, elided to their width: a run of a few probes has
  // little room, and full names ran into each other there.
  auto ticks = qSharedPointerDynamicCast<QCPAxisTickerText>(m_overTraining->xAxis->ticker());
  if (!ticks) return;
  const QFontMetrics metrics(m_overTraining->xAxis->tickLabelFont());
  QMap<double, QString> labels;
  for (const auto& l : m_runLabels) {
    const double width = std::abs(m_overTraining->xAxis->coordToPixel(l.hi) - m_overTraining->xAxis->coordToPixel(l.lo));
    labels.insert(l.centre, metrics.elidedText(l.name, Qt::ElideMiddle, int(width) - 6));
  }
  if (labels == ticks->ticks()) return;
  ticks->setTicks(labels);
  // The axis took its labels before this layout gave it its width: once more with these.
  m_overTraining->replot(QCustomPlot::rpQueuedReplot);
}

void SelectivityView::drawOverTraining(const std::vector<Shown>& shownRuns) {
  m_overTraining->clearPlottables();
  m_overTraining->clearItems();
  m_medians.clear();
  m_runLabels.clear();
  auto* scale = qobject_cast<QCPColorScale*>(m_overTraining->plotLayout()->element(0, 1));
  QSharedPointer<QCPAxisTickerText> runTicks(new QCPAxisTickerText), layerTicks(new QCPAxisTickerText);
  const int64_t step = m_timeline->currentStep();
  double offset = 0, top = 0;
  int rows = 0;
  for (const Shown& shown : shownRuns) {
    if (shown.group && !shown.probed) continue;
    // The probes drawn: a run's; a group's at each step where every one of its runs has one, their units pooled.
    const QString first = shown.runs.empty() ? QString() : shown.runs.front()->path;
    std::vector<std::vector<double>> medians;  // per block, per probe
    std::vector<QString> names;
    int current = -1;
    for (const ProbeRecord& probe : m_timeline->records(first)) {
      std::vector<std::vector<LayerSelectivity>> runs;
      for (const RunRecord* r : shown.runs)
        for (const auto& p : m_timeline->records(r->path))
          if (p.step == probe.step) {
            const auto* layers = probeSelectivity(QDir(r->path).filePath(
                QStringLiteral("probes/%1/selectivity.csv").arg(QString::fromStdString(p.dir))));
            if (!layers) return;
            runs.push_back(*layers);
          }
      if (runs.size() < shown.runs.size()) continue;
      const auto layers = pool_selectivity(runs);
      if (medians.empty())
        for (const auto& l : layers) medians.emplace_back(), names.push_back(l.layer);
      for (size_t b = 0; b < medians.size() && b < layers.size(); ++b)
        medians[b].push_back(quartiles(layers[b].csi).median);
      if (probe.step <= step) current = int(medians[0].size()) - 1;
    }
    if (medians.empty() || medians[0].empty()) continue;
    const int probes = int(medians[0].size()), blocks = int(medians.size());
    auto* map = new QCPColorMap(m_overTraining->xAxis, m_overTraining->yAxis);
    map->data()->setSize(probes, blocks);
    map->data()->setRange(QCPRange(offset, offset + std::max(1, probes - 1)), QCPRange(0, std::max(1, blocks - 1)));
    for (int b = 0; b < blocks; ++b)
      for (int i = 0; i < probes && i < int(medians[b].size()); ++i) {
        map->data()->setCell(i, b, medians[b][i]);
        top = std::max(top, medians[b][i]);
      }
    map->setInterpolate(false);
    map->setColorScale(scale);
    const double span = std::max(1, probes - 1);
    m_runLabels.push_back({offset + (probes - 1) / 2.0, offset - 0.75, offset + span + 0.75, short_name_of(shown)});
    if (current >= 0) {  // the timeline's step
      auto* line = new QCPItemStraightLine(m_overTraining);
      line->point1->setCoords(offset + current, 0);
      line->point2->setCoords(offset + current, 1);
      line->setPen(QPen(colour_of(shown), 2));
    }
    if (rows == 0)
      for (int b = 0; b < blocks; ++b) layerTicks->addTick(b, names[b]);
    rows = std::max(rows, blocks);
    m_medians[shown.key] = std::move(medians);
    offset += std::max(1, probes - 1) + 1.5;
  }
  // One colour scale for all runs: from 0 to the largest median drawn.
  scale->setDataRange(QCPRange(0, std::max(0.05, top)));
  for (int i = 0; i < m_overTraining->plottableCount(); ++i)
    if (auto* map = qobject_cast<QCPColorMap*>(m_overTraining->plottable(i)))
      map->setDataRange(scale->dataRange());
  m_overTraining->xAxis->setTicker(runTicks);
  m_overTraining->yAxis->setTicker(layerTicks);
  m_overTraining->xAxis->setRange(-0.5, std::max(1.0, offset - 1.0));
  m_overTraining->yAxis->setRange(-0.5, std::max(1, rows) - 0.5);
  set_hint(m_overTraining, m_medians.empty() ? overTrainingHint(shownRuns) : QString());
  scale->setVisible(!m_medians.empty());  // no scale beside a hint: it would name values not drawn
  replot_if_shown(m_overTraining);
}

QString SelectivityView::overTrainingHint(const std::vector<Shown>& shownRuns) const {
  // A group some runs of which have probes (the shipped study's first seeds): say how to see them.
  for (const Shown& shown : shownRuns) {
    if (!shown.group || shown.probed) continue;
    QStringList probed;
    for (const RunRecord* r : shown.runs)
      if (has_probes(*r)) probed << r->shortName();
    if (!probed.isEmpty())
      return (probed.size() == 1 ? tr("Over training: a group shows here when all its runs have probes; of %1, only "
                                      "%2 has them — check it on its own in the run browser to see it here")
                                 : tr("Over training: a group shows here when all its runs have probes; of %1, only "
                                      "%2 have them — check them on their own in the run browser to see them here"))
          .arg(shown.group->name, probed.join(tr(", ")));
  }
  return tr("Over training: runs trained with probes show each block's median selectivity at every probe here");
}

void SelectivityView::showHistogram(int layer) { drawHistogram(layer, shown_of(*m_catalog, m_runs)); }

void SelectivityView::drawHistogram(int layer, const std::vector<Shown>& shownRuns) {
  m_histLayer = layer;
  m_histogram->clearPlottables();
  constexpr int kBins = 20;
  QString name;
  for (const Shown& shown : shownRuns) {
    auto it = m_data.find(shown.key);
    if (it == m_data.end() || layer < 0 || layer >= int(it->second.size())) continue;
    const auto& v = it->second[layer].csi;
    name = it->second[layer].layer;
    QVector<double> keys(kBins), counts(kBins, 0);
    for (int b = 0; b < kBins; ++b) keys[b] = (b + 0.5) / kBins;
    for (double x : v) counts[std::clamp(int(x * kBins), 0, kBins - 1)] += 100.0 / double(v.size());
    auto* graph = m_histogram->addGraph();
    graph->setLineStyle(QCPGraph::lsStepCenter);
    graph->setPen(QPen(colour_of(shown), 1.6));
    graph->setName(name_of(shown, size_t(m_pooled[shown.key])));
    graph->removeFromLegend();  // the same runs in the same colours as the boxes' legend above
    graph->setData(keys, counts);
  }
  set_hint(m_histogram, name.isEmpty() ? tr("The histogram of the block clicked above") : QString());
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
