#include "compare_view.h"

#include <QComboBox>
#include <QFileInfo>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "curve_plot.h"
#include "curves_view.h"
#include "job.h"
#include "job_bar.h"
#include "models/registry.h"
#include "qcp.h"
#include "run_catalog.h"

namespace gex::ui {

namespace {
constexpr int kLimit = 1000;  // test images for the panels' analyses
const QString kOrder = QStringLiteral("csi-desc");

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
}  // namespace

CompareView::CompareView(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_jobs(new JobBar({}, 0, this)) {
  auto* top = m_jobs->controls();
  int at = 0;
  for (int i = 0; i < 2; ++i) {
    m_runs[i] = new QComboBox(this);
    m_runs[i]->setMinimumContentsLength(24);
    top->insertWidget(at++, new QLabel(i == 0 ? tr("Baseline") : tr("GE"), this));
    top->insertWidget(at++, m_runs[i]);
  }
  m_block = new QComboBox(this);
  top->insertWidget(at++, new QLabel(tr("Pruned block"), this));
  top->insertWidget(at++, m_block);
  m_table = new QTableWidget(2, 5, this);
  m_table->setHorizontalHeaderLabels({tr("Run"), tr("Parameters"), tr("GMACs"), tr("Best top-1 error"), tr("Images/s")});
  m_table->verticalHeader()->setVisible(false);
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_table->setMaximumHeight(90);
  auto* curves = new QCustomPlot(this);
  m_curves = new CurvePlot(curves, tr("epoch"), tr("top-1 error (%)"));
  m_curves->setTitle(tr("Top-1 error (dashed: train, solid: val)"));
  m_selectivity = new QCustomPlot(this);
  apply_palette(m_selectivity);
  m_selectivity->xAxis->setLabel(tr("block (by depth); click to prune it"));
  m_selectivity->yAxis->setLabel(tr("class selectivity (median, IQR)"));
  m_selectivity->legend->setVisible(true);
  m_pruning = new QCustomPlot(this);
  apply_palette(m_pruning);
  m_pruning->xAxis->setLabel(tr("fraction of channels pruned (csi-desc)"));
  m_pruning->yAxis->setLabel(tr("top-1 error (%)"));
  m_pruning->legend->setVisible(true);
  m_pruning->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  auto* grid = new QGridLayout;
  grid->addWidget(curves, 0, 0, 2, 1);
  grid->addWidget(m_selectivity, 0, 1);
  grid->addWidget(m_pruning, 1, 1);
  grid->setColumnStretch(0, 1);
  grid->setColumnStretch(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(m_jobs);
  layout->addWidget(m_table);
  layout->addLayout(grid, 1);
  for (auto* c : m_runs) connect(c, &QComboBox::currentIndexChanged, this, &CompareView::refresh);
  connect(m_block, &QComboBox::currentIndexChanged, this, &CompareView::analyse);
  connect(m_selectivity, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    const int layer = int(std::lround(m_selectivity->xAxis->pixelToCoord(e->position().x())));
    if (layer >= 0 && layer < int(m_csi[0].size())) setBlock(m_csi[0][layer].layer);
  });
  connect(m_catalog, &RunCatalog::runsChanged, this, &CompareView::refreshRuns);
  connect(m_jobs, &JobBar::jobFinished, this, [this](bool ok, const QString& error) {
    if (!ok) Q_EMIT message(error);
    if (!m_jobs->isBusy()) analyse();
  });
  refreshRuns();
}

CompareView::~CompareView() = default;

bool CompareView::isBusy() const { return m_jobs->isBusy(); }

QString CompareView::runAt(int side) const { return m_runs[side]->currentData().toString(); }

void CompareView::refreshRuns() {
  QString pick[2] = {runAt(0), runAt(1)};
  for (int side = 0; side < 2; ++side) {
    QSignalBlocker block(m_runs[side]);
    m_runs[side]->clear();
    for (const auto& r : m_catalog->runs()) {
      const bool baseline = r.config.model.attention == AttentionKind::kNone;
      if (r.hasCheckpoint() && (side == 0) == baseline) m_runs[side]->addItem(r.name, r.path);
    }
    const int i = m_runs[side]->findData(pick[side]);
    m_runs[side]->setCurrentIndex(std::max(0, i));
  }
  refresh();
}

void CompareView::setPair(const QString& baseline, const QString& ge) {
  const QString paths[2] = {baseline, ge};
  for (int side = 0; side < 2; ++side) {
    const RunRecord* r = m_catalog->find(paths[side]);
    const int i = r ? m_runs[side]->findData(r->path) : -1;
    if (i >= 0) m_runs[side]->setCurrentIndex(i);
    else if (!paths[side].isEmpty()) Q_EMIT message(tr("%1: no such run with a checkpoint").arg(paths[side]));
  }
}

void CompareView::setBlock(const QString& block) { m_block->setCurrentText(block); }

void CompareView::refresh() {
  std::vector<Series> series;
  m_table->clearContents();
  for (int side = 0; side < 2; ++side) {
    const RunRecord* r = m_catalog->find(runAt(side));
    if (!r) continue;
    for (auto& s : error_series(*r, side)) series.push_back(std::move(s));
    Complexity c;
    try {
      auto net = build_network(r->config.model);
      c = measure_complexity(*net);
    } catch (const std::exception& e) {
      Q_EMIT message(QString::fromStdString(e.what()));
    }
    const QStringList cells = {r->name, QStringLiteral("%1 M").arg(double(c.params) / 1e6, 0, 'f', 3),
                               QString::number(double(c.macs) / 1e9, 'f', 4),
                               std::isnan(r->best_error) ? QStringLiteral("–") : QStringLiteral("%1 % (epoch %2)").arg(100 * r->best_error, 0, 'f', 2).arg(r->best_epoch, 0, 'g', 3),
                               QString::number(r->images_per_second, 'f', 0)};
    for (int col = 0; col < cells.size(); ++col) {
      auto* item = new QTableWidgetItem(cells[col]);
      item->setForeground(col == 0 ? run_color(side) : palette().color(QPalette::Text));
      m_table->setItem(side, col, item);
    }
  }
  m_curves->setSeries(std::move(series));
  m_curves->setSmoothing(0);
  // Blocks of the baseline's model; the GE model of the same backbone has the same ones.
  const QString block = m_block->currentText();
  QSignalBlocker blocker(m_block);
  m_block->clear();
  if (const RunRecord* r = m_catalog->find(runAt(0))) {
    try {
      m_block->addItems(block_names(*r));
    } catch (const std::exception& e) {
      Q_EMIT message(QString::fromStdString(e.what()));
    }
  }
  const int i = m_block->findText(block);
  m_block->setCurrentIndex(i >= 0 ? i : m_block->count() - 1);
  analyse();
}

void CompareView::analyse() {
  if (!isVisible()) {
    m_stale = true;
    return;
  }
  m_stale = false;
  const QString block = m_block->currentText();
  for (int side = 0; side < 2; ++side) {
    m_csi[side].clear();
    m_prune[side].clear();
    const RunRecord* r = m_catalog->find(runAt(side));
    if (!r) continue;
    const QString sel = analysis_path(*r, selectivity_file(kLimit));
    const QString pru = analysis_path(*r, pruning_file(block, kOrder, kLimit));
    QString error;
    if (QFileInfo::exists(sel)) m_csi[side] = read_selectivity(sel, &error);
    if (!block.isEmpty() && QFileInfo::exists(pru)) m_prune[side] = read_pruning(pru, &error);
    if (!error.isEmpty()) Q_EMIT message(error);
    const bool needSel = !QFileInfo::exists(sel), needPrune = !block.isEmpty() && !QFileInfo::exists(pru);
    if (!needSel && !needPrune) continue;
    if (m_jobs->isHandled(sel + pru)) continue;
    const RunRecord run = *r;
    m_jobs->run(new Job(tr("compare %1").arg(r->name), [run, block, sel, pru, needSel, needPrune](Job& job) {
      if (needSel) compute_selectivity(run, kLimit, sel, job);
      if (needPrune && !job.cancelled()) compute_pruning(run, block, kOrder, kLimit, pru, job, [](const PruningPoint&) {});
    }), sel + pru);
  }
  if (!m_jobs->isBusy()) m_jobs->setStatus(tr("Analyses over the first %1 test images, cached in each run's analyses/.").arg(kLimit));
  drawSelectivity();
  drawPruning();
}

void CompareView::drawSelectivity() {
  m_selectivity->clearGraphs();
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  int layers = 0;
  for (int side = 0; side < 2; ++side) {
    if (m_csi[side].empty()) continue;
    QVector<double> x, med, q1, q3;
    for (int l = 0; l < int(m_csi[side].size()); ++l) {
      auto v = m_csi[side][l].csi;
      std::sort(v.begin(), v.end());
      x << l;
      med << median(v);
      q1 << v[v.size() / 4];
      q3 << v[(3 * v.size()) / 4];
      ticker->addTick(l, m_csi[side][l].layer);
    }
    layers = std::max(layers, int(x.size()));
    const QColor colour = run_color(side);
    add_band(m_selectivity, x, q1, q3, colour);
    auto* g = m_selectivity->addGraph();
    g->setPen(QPen(colour, 1.8));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    g->setName(m_runs[side]->currentText());
    g->setData(x, med, true);
  }
  const int current = m_block->currentIndex() - (m_block->count() - layers);
  if (current >= 0) {
    auto* marker = m_selectivity->addGraph();
    marker->removeFromLegend();
    marker->setLineStyle(QCPGraph::lsImpulse);
    marker->setPen(QPen(palette().color(QPalette::Mid), 6));
    marker->setData({double(current)}, {1.0});
  }
  m_selectivity->xAxis->setTicker(ticker);
  m_selectivity->xAxis->setTickLabelRotation(layers > 6 ? 45 : 0);
  m_selectivity->xAxis->setRange(-0.5, std::max(1, layers) - 0.5);
  m_selectivity->yAxis->setRange(0, 1);
  replot_if_shown(m_selectivity);
}

void CompareView::drawPruning() {
  m_pruning->clearGraphs();
  for (int side = 0; side < 2; ++side) {
    if (m_prune[side].empty()) continue;
    QVector<double> x, y;
    for (const auto& p : m_prune[side]) x << p.ratio, y << 100 * p.top1_error;
    auto* g = m_pruning->addGraph();
    g->setPen(QPen(run_color(side), 1.8));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    g->setName(QStringLiteral("%1 · %2").arg(m_runs[side]->currentText(), m_block->currentText()));
    g->setData(x, y, true);
  }
  m_pruning->rescaleAxes();
  m_pruning->xAxis->setRange(-0.02, 1.02);
  m_pruning->yAxis->setRange(0, std::max(10.0, m_pruning->yAxis->range().upper * 1.05));
  replot_if_shown(m_pruning);
}

void CompareView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (m_stale) analyse();
}

}  // namespace gex::ui
