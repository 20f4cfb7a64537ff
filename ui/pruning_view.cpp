#include "pruning_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QSettings>
#include <QVBoxLayout>

#include <numeric>

#include "curves_view.h"
#include "job_bar.h"
#include "model_info.h"
#include "plot_style.h"
#include "pooled_analyses.h"
#include "probe_timeline.h"
#include "run_catalog.h"

namespace gex::ui {

QStringList PruningView::orderNames() {
  return {QStringLiteral("csi-desc"), QStringLiteral("csi-asc"),   QStringLiteral("act-desc"),
          QStringLiteral("l1-desc"),  QStringLiteral("gate-desc"), QStringLiteral("random")};
}

PruningView::PruningView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent)
    : QWidget(parent),
      m_catalog(catalog),
      m_models(models),
      m_store(new AnalysisStore(this)),
      m_jobs(new JobBar(QStringLiteral("pruning/limit"), 2000, this)),
      m_timeline(new ProbeTimeline(catalog, this)) {
  m_block = new QComboBox(this);
  m_block->setMinimumContentsLength(8);
  m_block->setToolTip(tr("The residual block (layerK.J) or the whole stage (layerK) whose output channels are zeroed"));
  m_block->setAccessibleName(tr("Pruned block"));
  m_jobs->setStatus(tr("Check runs in the run browser, pick a block and orders."));
  m_jobs->addControl(tr("Block"), m_block);
  const QStringList chosen =
      QSettings().value(QStringLiteral("pruning/orders"), QStringList{QStringLiteral("csi-desc"), QStringLiteral("random")})
          .toStringList();
  for (const QString& o : orderNames()) {
    auto* box = new QCheckBox(o, this);
    box->setChecked(chosen.contains(o));
    box->setToolTip(describe_prune_order(o));
    m_orders[o] = box;
    m_jobs->addControl(box);
    connect(box, &QCheckBox::toggled, this, [this] {
      QSettings().setValue(QStringLiteral("pruning/orders"), orders());
      load();
    });
  }
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(m_jobs);
  layout->addWidget(m_timeline);
  connect(m_timeline, &ProbeTimeline::stepChanged, this, &PruningView::load);
  connect(m_timeline, &ProbeTimeline::probesChanged, this, &PruningView::load);
  connect(m_timeline, &ProbeTimeline::message, this, [this](const QString& e) { Q_EMIT message(e); });
  m_plot = new QCustomPlot(this);
  m_plot->setMinimumHeight(200);
  layout->addWidget(m_plot, 1);
  follow_palette(m_plot);
  legend_below(m_plot);
  m_plot->xAxis->setLabel(tr("fraction of channels pruned"));
  m_plot->yAxis->setLabel(tr("top-1 error (%)"));
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(m_block, &QComboBox::currentIndexChanged, this, &PruningView::load);
  connect(m_jobs, &JobBar::computeRequested, this, &PruningView::compute);
  connect(m_jobs, &JobBar::cancelRequested, m_store, &AnalysisStore::cancel);
  connect(m_store, &AnalysisStore::jobStarted, m_jobs, &JobBar::track);
  connect(m_store, &AnalysisStore::failed, this, [this](const QString& e) { Q_EMIT message(e); });
  connect(m_store, &AnalysisStore::warned, this, [this](const QString& w) { Q_EMIT message(w, MessageKind::kWarning); });
  connect(m_store, &AnalysisStore::dataMissing, this, &PruningView::dataMissing);
  connect(m_store, &AnalysisStore::changed, this, &PruningView::load);
  connect(m_store, &AnalysisStore::idle, this, &PruningView::load);  // says where the curves come from
  connect(m_models, &ModelInfoCache::ready, this, &PruningView::refreshBlocks);
  redraw({});
}

PruningView::~PruningView() = default;

bool PruningView::isBusy() const { return m_store->isBusy(); }

QStringList PruningView::orders() const {
  QStringList out;
  for (const QString& o : orderNames())
    if (m_orders.at(o)->isChecked()) out << o;
  return out;
}

void PruningView::setOrders(const QStringList& list) {
  for (auto& [o, box] : m_orders) {
    QSignalBlocker block(box);
    box->setChecked(list.contains(o));
  }
  QSettings().setValue(QStringLiteral("pruning/orders"), orders());
  load();
}

void PruningView::setLimit(int images) {
  m_jobs->setLimit(images);
  load();
}

void PruningView::setBlock(const QString& block) { m_block->setCurrentText(block); }

void PruningView::setRuns(const QStringList& keys) {
  m_runs = keys;
  m_timeline->setRuns(timeline_runs(shown_of(*m_catalog, keys)));
  refreshBlocks();
  load();
}

void PruningView::compute() {
  m_store->retry();
  load();
}

void PruningView::refreshBlocks() {
  // The blocks of the first checked run's model (from the cache: no network built here).
  QStringList names;
  for (const Shown& shown : shown_of(*m_catalog, m_runs))
    if (!shown.runs.empty() && shown.runs.front()->readable) {
      if (const ModelInfo* info = m_models->get(shown.runs.front()->config.model)) names = info->stages + info->blocks;
      break;
    }
  if (set_block_choices(m_block, names)) load();
}

void PruningView::load() {
  if (!isVisible()) {
    m_stale = true;
    return;
  }
  m_stale = false;
  m_store->dropWaiting();  // asked again below where still shown
  m_curves.clear();
  m_final.clear();
  m_pooled.clear();
  const QString block = m_block->currentText();
  const int limit = m_jobs->limit();
  const int64_t step = m_timeline->currentStep();
  bool probed = false, unrecorded = false;
  const auto shownRuns = shown_of(*m_catalog, m_runs);  // looked up once for the drawing below
  for (const Shown& shown : shownRuns) {
    std::map<QString, std::vector<std::vector<PruningPoint>>> runs, finals;  // by order, a curve per run
    for (const RunRecord* r : shown.runs) {
      Curves curves, final;
      bool fromProbes = false;  // the probe's curves at the timeline's step
      if (!block.isEmpty() && (shown.group ? shown.probed : !m_timeline->records(r->path).empty())) {
        const QString dir = shown.group ? m_timeline->exactProbeDir(r->path) : m_timeline->probeDir(r->path, step);
        if (shown.group && dir.isEmpty()) continue;  // not probed at this point: left out of the group's
        if (probeCurves(dir, block, curves)) {
          const int64_t last = m_timeline->records(r->path).back().step;
          if (step < last) probeCurves(m_timeline->probeDir(r->path, last), block, final);
          probed = fromProbes = true;
        }
      }
      if (!block.isEmpty() && r->hasCheckpoint())
        for (const QString& order : orders()) {
          if (curves.count(order)) continue;
          unrecorded = unrecorded || fromProbes;  // an order its probes did not record: at the best checkpoint
          if (const auto* points = m_store->pruning(*r, block, order, limit)) curves[order] = *points;
        }
      for (auto& [order, points] : curves) runs[order].push_back(std::move(points));
      for (auto& [order, points] : final) finals[order].push_back(std::move(points));
    }
    // A run's curve as it is (its repeats); a group's, its runs' means as repeats (pool_pruning).
    for (const auto& [order, curves] : runs) {
      m_curves[{shown.key, order}] = shown.group ? pool_pruning(curves) : curves.front();
      m_pooled[{shown.key, order}] = int(curves.size());
    }
    for (const auto& [order, curves] : finals)
      m_final[{shown.key, order}] = shown.group ? pool_pruning(curves) : curves.front();
  }
  if (probed)
    m_jobs->setStatus(tr("Runs with probes of %1: the curve at step %L2 (their probes' test images), the final "
                         "one faint behind it%3").arg(block).arg(step)
                          .arg(unrecorded ? tr("; orders the probes did not record at the best checkpoint") : QString()));
  else if (!m_curves.empty() && !m_store->isBusy())
    m_jobs->setStatus(tr("Done; cached in each run's analyses/."));
  redraw(shownRuns);
}

bool PruningView::probeCurves(const QString& dir, const QString& block, Curves& into) {
  const QString csv = QDir(dir).filePath(QStringLiteral("prune-%1.csv").arg(block));
  if (dir.isEmpty() || !QFileInfo::exists(csv)) return false;
  QString error;
  const auto points = read_pruning(csv, &error);
  if (!error.isEmpty()) {
    Q_EMIT message(error);
    return false;
  }
  const QStringList shown = orders();
  for (const auto& p : points)
    if (shown.contains(p.order)) into[p.order].push_back(p);
  return true;
}

void PruningView::redraw(const std::vector<Shown>& shownRuns) {
  m_plot->clearGraphs();
  m_plot->clearPlottables();
  // Random is the solid line with its band; the ranked orders are dashed, dotted, ….
  const Qt::PenStyle styles[] = {Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine, Qt::DashLine};
  int drawn = 0;
  for (const Shown& shown : shownRuns) {
    const QColor colour = colour_of(shown);
    int o = 0;
    for (const QString& order : orderNames()) {
      auto it = m_curves.find({shown.key, order});
      if (it == m_curves.end() || it->second.empty()) continue;
      // Mean over repeats per ratio, with the min–max band for the random order (a group's: over
      // its runs, for every order).
      std::map<double, std::vector<double>> byRatio;
      for (const auto& p : it->second) byRatio[p.ratio].push_back(100 * p.top1_error);
      QVector<double> x, mean, lo, hi;
      for (const auto& [ratio, v] : byRatio) {
        x << ratio;
        double sum = 0;
        for (double e : v) sum += e;
        mean << sum / double(v.size());
        lo << *std::min_element(v.begin(), v.end());
        hi << *std::max_element(v.begin(), v.end());
      }
      // The run's final curve, faint behind the one at the timeline's step.
      if (auto fin = m_final.find({shown.key, order}); fin != m_final.end()) {
        std::map<double, std::vector<double>> last;
        for (const auto& p : fin->second) last[p.ratio].push_back(100 * p.top1_error);
        QVector<double> fx, fy;
        for (const auto& [ratio, v] : last) fx << ratio, fy << std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
        auto* faint = m_plot->addGraph();
        QColor light = colour;
        light.setAlpha(70);
        faint->setPen(QPen(light, 3));
        faint->setData(fx, fy, true);
        faint->setName(QStringLiteral("%1 · %2 (final)").arg(short_name_of(shown), order));
        faint->removeFromLegend();
      }
      auto* g = m_plot->addGraph();
      const size_t pooled = size_t(m_pooled[{shown.key, order}]);
      g->setName(shown.group ? QStringLiteral("%1 · %2 (%3)").arg(shown.group->name, order,
                                                                   band_words(BandKind::kMinMax, pooled, shown.runs.size()))
                             : QStringLiteral("%1 · %2").arg(name_of(shown, pooled), order));
      QPen pen(colour, 1.6);
      pen.setStyle(order == QLatin1String("random") ? Qt::SolidLine : styles[o % 5]);
      g->setPen(pen);
      g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
      g->setData(x, mean, true);
      if ((shown.group || order == QLatin1String("random")) && it->second.size() > byRatio.size())
        add_band(m_plot, x, lo, hi, colour);
      ++o, ++drawn;
    }
  }
  set_hint(m_plot, drawn > 0              ? QString()
                   : m_store->isBusy()    ? tr("Pruning…")
                   : m_runs.isEmpty()     ? tr("Check runs in the run browser to compare their pruning curves")
                                          : tr("Pick a block and at least one order"));
  m_plot->rescaleAxes();
  m_plot->xAxis->setRange(-0.02, 1.02);
  m_plot->yAxis->setRange(0, std::max(10.0, m_plot->yAxis->range().upper * 1.05));
  replot_if_shown(m_plot);
}

void PruningView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (m_stale) load();
}

}  // namespace gex::ui
