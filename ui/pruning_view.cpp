#include "pruning_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include "curve_plot.h"
#include "job.h"
#include "job_bar.h"
#include "qcp.h"
#include "run_catalog.h"

namespace gex::ui {

namespace {
const QStringList kOrders = {QStringLiteral("csi-desc"), QStringLiteral("csi-asc"), QStringLiteral("act-desc"),
                             QStringLiteral("l1-desc"),  QStringLiteral("gate-desc"), QStringLiteral("random")};
}

PruningView::PruningView(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_jobs(new JobBar(QStringLiteral("pruning/limit"), 2000, this)) {
  m_block = new QComboBox(this);
  m_block->setMinimumContentsLength(10);
  m_jobs->setStatus(tr("Check runs in the run browser, pick a block and orders."));
  auto* bar = m_jobs->controls();
  int at = 0;
  bar->insertWidget(at++, new QLabel(tr("Block"), this));
  bar->insertWidget(at++, m_block);
  const QStringList chosen = QSettings().value(QStringLiteral("pruning/orders"), QStringList{QStringLiteral("csi-desc"), QStringLiteral("random")}).toStringList();
  for (const QString& o : kOrders) {
    auto* box = new QCheckBox(o, this);
    box->setChecked(chosen.contains(o));
    m_orders[o] = box;
    bar->insertWidget(at++, box);
  }
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(m_jobs);
  m_plot = new QCustomPlot(this);
  layout->addWidget(m_plot, 1);
  apply_palette(m_plot);
  m_plot->xAxis->setLabel(tr("fraction of channels pruned"));
  m_plot->yAxis->setLabel(tr("top-1 error (%)"));
  m_plot->legend->setVisible(true);
  m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(m_jobs, &JobBar::computeRequested, this, &PruningView::load);
  connect(m_jobs, &JobBar::jobFinished, this, [this](bool ok, const QString& error) {
    if (!ok) Q_EMIT message(error);
    if (!m_jobs->isBusy()) m_jobs->setStatus(tr("Done; cached in each run's analyses/."));
  });
}

PruningView::~PruningView() = default;

bool PruningView::isBusy() const { return m_jobs->isBusy(); }

QStringList PruningView::orders() const {
  QStringList out;
  for (const QString& o : kOrders)
    if (m_orders.at(o)->isChecked()) out << o;
  return out;
}

void PruningView::setOrders(const QStringList& list) {
  for (auto& [o, box] : m_orders) box->setChecked(list.contains(o));
}

void PruningView::setLimit(int images) { m_jobs->setLimit(images); }

void PruningView::setBlock(const QString& block) { m_block->setCurrentText(block); }

void PruningView::setRuns(const QStringList& paths) {
  m_runs = paths;
  refreshBlocks();
  m_curves.clear();
  m_stale = true;
  if (isVisible()) load();
  else redraw();
}

void PruningView::refreshBlocks() {
  const QString current = m_block->currentText();
  QSignalBlocker block(m_block);
  m_block->clear();
  for (const QString& p : m_runs)
    if (const RunRecord* r = m_catalog->find(p); r && r->status != QLatin1String("unreadable")) {
      try {
        m_block->addItems(block_names(*r));
      } catch (const std::exception& e) {
        Q_EMIT message(QString::fromStdString(e.what()));
      }
      break;
    }
  // The last block by default: where GE-SPEC's pruning study looks first.
  m_block->setCurrentIndex(m_block->findText(current) >= 0 ? m_block->findText(current) : m_block->count() - 1);
}

void PruningView::load() {
  m_stale = false;
  QSettings().setValue(QStringLiteral("pruning/orders"), orders());
  const QString block = m_block->currentText();
  if (block.isEmpty()) return;
  const int limit = m_jobs->limit();
  for (const QString& path : m_runs) {
    const RunRecord* r = m_catalog->find(path);
    if (!r || !r->hasCheckpoint()) continue;
    for (const QString& order : orders()) {
      const auto key = std::make_pair(path, order);
      const QString csv = analysis_path(*r, pruning_file(block, order, limit));
      if (QFileInfo::exists(csv)) {
        QString error;
        m_curves[key] = read_pruning(csv, &error);
        if (!error.isEmpty()) Q_EMIT message(error);
        continue;
      }
      m_curves[key].clear();
      if (m_jobs->isHandled(csv)) continue;
      const RunRecord run = *r;
      m_jobs->run(new Job(tr("pruning %1").arg(r->name), [this, run, block, order, limit, csv, key](Job& job) {
        compute_pruning(run, block, order, limit, csv, job, [this, &job, key](const PruningPoint& p) {
          job.post([this, key, p] {
            m_curves[key].push_back(p);
            redraw();
          });
        });
      }), csv);
    }
  }
  redraw();
}

void PruningView::redraw() {
  m_plot->clearGraphs();
  int k = 0;
  // Random is the solid line with its band; the ranked orders are dashed, dotted, ….
  const Qt::PenStyle styles[] = {Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine, Qt::DashLine};
  for (const QString& path : m_runs) {
    const RunRecord* r = m_catalog->find(path);
    const QColor colour = run_color(k++);
    int o = 0;
    for (const QString& order : kOrders) {
      auto it = m_curves.find({path, order});
      if (it == m_curves.end() || it->second.empty()) continue;
      // Mean over repeats per ratio, with the min–max band for the random order.
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
      auto* g = m_plot->addGraph();
      g->setName(QStringLiteral("%1 · %2").arg(r ? r->name : path, order));
      QPen pen(colour, 1.6);
      pen.setStyle(order == QLatin1String("random") ? Qt::SolidLine : styles[o % 5]);
      g->setPen(pen);
      g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
      g->setData(x, mean, true);
      if (order == QLatin1String("random") && it->second.size() > byRatio.size()) add_band(m_plot, x, lo, hi, colour);
      ++o;
    }
  }
  m_plot->rescaleAxes();
  m_plot->xAxis->setRange(-0.02, 1.02);
  m_plot->yAxis->setRange(0, std::max(10.0, m_plot->yAxis->range().upper * 1.05));
  replot_if_shown(m_plot);
}

void PruningView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  if (m_stale && !m_runs.isEmpty()) load();
}

}  // namespace gex::ui
