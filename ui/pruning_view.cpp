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
#include "qcp.h"
#include "run_catalog.h"

namespace gex::ui {

namespace {
const QStringList kOrders = {QStringLiteral("csi-desc"), QStringLiteral("csi-asc"), QStringLiteral("act-desc"),
                             QStringLiteral("l1-desc"),  QStringLiteral("gate-desc"), QStringLiteral("random")};
}

PruningView::PruningView(RunCatalog* catalog, QWidget* parent) : QWidget(parent), m_catalog(catalog) {
  m_block = new QComboBox(this);
  m_block->setMinimumContentsLength(10);
  m_limit = new QSpinBox(this);
  m_limit->setRange(100, 1000000);
  m_limit->setSingleStep(500);
  m_limit->setValue(QSettings().value(QStringLiteral("pruning/limit"), 2000).toInt());
  m_limit->setToolTip(tr("Test images used (the first N of the split)"));
  auto* compute = new QPushButton(tr("Compute"), this);
  auto* cancel = new QPushButton(tr("Cancel"), this);
  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 1000);
  m_progress->setVisible(false);
  m_status = new QLabel(tr("Check runs in the run browser, pick a block and orders."), this);
  auto* bar = new QHBoxLayout;
  bar->addWidget(new QLabel(tr("Block"), this));
  bar->addWidget(m_block);
  const QStringList chosen = QSettings().value(QStringLiteral("pruning/orders"), QStringList{QStringLiteral("csi-desc"), QStringLiteral("random")}).toStringList();
  for (const QString& o : kOrders) {
    auto* box = new QCheckBox(o, this);
    box->setChecked(chosen.contains(o));
    m_orders[o] = box;
    bar->addWidget(box);
  }
  bar->addWidget(new QLabel(tr("Test images"), this));
  bar->addWidget(m_limit);
  bar->addWidget(compute);
  bar->addWidget(cancel);
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(bar);
  auto* status = new QHBoxLayout;
  status->addWidget(m_status, 1);
  status->addWidget(m_progress, 1);
  layout->addLayout(status);
  m_plot = new QCustomPlot(this);
  layout->addWidget(m_plot, 1);
  m_plot->xAxis->setLabel(tr("fraction of channels pruned"));
  m_plot->yAxis->setLabel(tr("top-1 error (%)"));
  m_plot->legend->setVisible(true);
  m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
  m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
  connect(compute, &QPushButton::clicked, this, &PruningView::load);
  connect(cancel, &QPushButton::clicked, this, [this] {
    for (auto& j : m_jobs)
      if (j) j->cancel();
  });
  connect(m_limit, &QSpinBox::valueChanged, this, [](int v) { QSettings().setValue(QStringLiteral("pruning/limit"), v); });
}

PruningView::~PruningView() {
  for (auto& j : m_jobs) delete j;
}

QStringList PruningView::orders() const {
  QStringList out;
  for (const QString& o : kOrders)
    if (m_orders.at(o)->isChecked()) out << o;
  return out;
}

void PruningView::setOrders(const QStringList& list) {
  for (auto& [o, box] : m_orders) box->setChecked(list.contains(o));
}

void PruningView::setLimit(int images) { m_limit->setValue(images); }

void PruningView::setBlock(const QString& block) { m_block->setCurrentText(block); }

void PruningView::setRuns(const QStringList& paths) {
  m_runs = paths;
  refreshBlocks();
  m_curves.clear();
  redraw();
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
  QSettings().setValue(QStringLiteral("pruning/orders"), orders());
  const QString block = m_block->currentText();
  if (block.isEmpty()) return;
  const int limit = m_limit->value();
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
      bool queued = false;
      for (auto& j : m_jobs) queued |= j && j->property("csv").toString() == csv;
      if (queued) continue;
      const RunRecord run = *r;
      auto* job = new Job(tr("pruning %1").arg(r->name), [this, run, block, order, limit, csv, key](Job& job) {
        compute_pruning(run, block, order, limit, csv, job, [this, &job, key](const PruningPoint& p) {
          job.post([this, key, p] {
            m_curves[key].push_back(p);
            redraw();
          });
        });
      }, this);
      job->setProperty("csv", csv);
      m_jobs << job;
      connect(job, &Job::progress, this, [this](double f, const QString& text) {
        m_progress->setVisible(true);
      m_progress->setValue(f < 0 ? 0 : int(1000 * f));
        m_status->setText(text);
      });
      connect(job, &Job::finished, this, [this, job](bool ok, const QString& error) {
        m_jobs.removeAll(job);
        job->deleteLater();
        if (!ok) Q_EMIT message(error);
        if (m_jobs.isEmpty()) m_status->setText(tr("Done; cached in each run's analyses/."));
      });
      job->start();
    }
  }
  redraw();
}

void PruningView::redraw() {
  m_plot->clearGraphs();
  int k = 0;
  const Qt::PenStyle styles[] = {Qt::SolidLine, Qt::DashLine, Qt::DotLine, Qt::DashDotLine, Qt::DashDotDotLine};
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
      if (order == QLatin1String("random") && it->second.size() > byRatio.size()) {
        auto* low = m_plot->addGraph();
        auto* high = m_plot->addGraph();
        low->setPen(Qt::NoPen);
        high->setPen(Qt::NoPen);
        low->removeFromLegend();
        high->removeFromLegend();
        low->setData(x, lo, true);
        high->setData(x, hi, true);
        QColor band = colour;
        band.setAlpha(45);
        high->setBrush(band);
        high->setChannelFillGraph(low);
      }
      ++o;
    }
  }
  m_plot->rescaleAxes();
  m_plot->xAxis->setRange(-0.02, 1.02);
  m_plot->yAxis->setRange(0, std::max(10.0, m_plot->yAxis->range().upper * 1.05));
  replot_if_shown(m_plot);
}

}  // namespace gex::ui
