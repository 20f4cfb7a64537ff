#include "curves_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenu>
#include <QSettings>
#include <QSlider>
#include <QSplitter>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>
#include <map>

#include "curve_plot.h"
#include "qcp.h"
#include "run_catalog.h"
#include "plural.h"

namespace gex::ui {

std::vector<Series> loss_series(const RunRecord& run) {
  Series train = make_series(run.name, QObject::tr("train loss"), run_color(run.colour));
  train.legendLabel = run.name;
  for (const auto& m : run.metrics)
    if (m.split == "train") train.x.push_back(double(m.step)), train.y.push_back(m.loss);
  return {train};
}

std::vector<Series> error_series(const RunRecord& run) {
  Series train = make_series(run.name, QObject::tr("train top-1"), run_color(run.colour));
  train.dashed = true;
  train.inLegend = false;  // the title says dashed is train: one legend entry per run
  Series val = make_series(run.name, QObject::tr("val top-1"), run_color(run.colour));
  val.markBest = true;
  val.legendLabel = run.name;
  for (const auto& m : run.metrics) {
    auto& s = m.split == "train" ? train : val;
    s.x.push_back(m.epoch);
    s.y.push_back(100 * m.top1_error);
  }
  return {train, val};
}

Series group_series(const QString& group, const QString& name, const QColor& colour,
                    const std::vector<std::map<double, double>>& curves, BandKind band) {
  Series s = make_series(group, name, colour);
  if (curves.empty()) return s;
  for (const auto& [x, first] : curves.front()) {
    std::vector<double> ys;
    for (const auto& c : curves)
      if (auto it = c.find(x); it != c.end()) ys.push_back(it->second);
    if (ys.size() != curves.size()) continue;
    double mean = 0;
    for (double y : ys) mean += y / double(ys.size());
    double sd = 0;
    for (double y : ys) sd += (y - mean) * (y - mean);
    sd = ys.size() > 1 ? std::sqrt(sd / double(ys.size() - 1)) : 0;
    s.x.push_back(x);
    s.y.push_back(mean);
    s.low.push_back(band == BandKind::kSd ? mean - sd : *std::min_element(ys.begin(), ys.end()));
    s.high.push_back(band == BandKind::kSd ? mean + sd : *std::max_element(ys.begin(), ys.end()));
  }
  return s;
}

namespace {

std::vector<std::map<double, double>> curves_of(const std::vector<const RunRecord*>& runs, const char* split,
                                                bool byStep, double (*value)(const MetricsRow&)) {
  std::vector<std::map<double, double>> out;
  for (const RunRecord* r : runs) {
    std::map<double, double> c;
    for (const auto& m : r->metrics)
      if (m.split == split) c[byStep ? double(m.step) : m.epoch] = value(m);
    if (!c.empty()) out.push_back(std::move(c));  // a run not started yet does not hold the group back
  }
  return out;
}

}  // namespace

QString runs_words(size_t runs, size_t of) {
  return of > runs ? QObject::tr("%1 of %2 runs").arg(runs).arg(of) : plural(int(runs), "%1 run", "%1 runs");
}

QString band_words(BandKind band, size_t runs, size_t of) {
  // One run has neither a mean nor a spread to speak of; none has no curve yet (its first row or
  // evaluation is still to come).
  if (runs == 0) return QObject::tr("no point yet");
  if (runs == 1) return runs_words(runs, of);
  return (band == BandKind::kSd ? QObject::tr("mean ± sd of %1") : QObject::tr("mean, min–max of %1"))
      .arg(runs_words(runs, of));
}

std::vector<Series> group_loss_series(const RunGroup& group, const std::vector<const RunRecord*>& runs, BandKind band) {
  const auto curves = curves_of(runs, "train", true, [](const MetricsRow& m) { return m.loss; });
  Series s = group_series(group.name, QObject::tr("train loss"), run_color(group.colour), curves, band);
  s.legendLabel = group.name + QStringLiteral(" (") + band_words(band, curves.size()) + QLatin1Char(')');
  return {s};
}

std::vector<Series> group_error_series(const RunGroup& group, const std::vector<const RunRecord*>& runs,
                                       BandKind band) {
  const auto error = [](const MetricsRow& m) { return 100 * m.top1_error; };
  const auto trainCurves = curves_of(runs, "train", false, error);
  Series train = group_series(group.name, QObject::tr("train top-1"), run_color(group.colour), trainCurves, band);
  train.low.clear();
  train.high.clear();
  train.dashed = true;
  train.inLegend = false;
  const auto valCurves = curves_of(runs, "val", false, error);
  Series val = group_series(group.name, QObject::tr("val top-1"), run_color(group.colour), valCurves, band);
  val.markBest = true;
  val.legendLabel = group.name + QStringLiteral(" (") + band_words(band, valCurves.size()) + QLatin1Char(')');
  return {train, val};
}

CurvesView::CurvesView(RunCatalog* catalog, QWidget* parent) : QWidget(parent), m_catalog(catalog) {
  auto* layout = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  m_smoothing = new QSlider(Qt::Horizontal, this);
  m_smoothing->setRange(0, 99);
  m_smoothing->setMaximumWidth(220);
  m_smoothingLabel = new QLabel(this);
  m_smoothing->setToolTip(tr("Exponential moving average of the training loss (debiased, as TensorBoard); the raw "
                              "curve stays faint underneath"));
  m_smoothing->setAccessibleName(tr("Smoothing"));
  m_band = new QComboBox(this);
  m_band->addItem(tr("Band: min–max"), int(BandKind::kMinMax));
  m_band->addItem(tr("Band: ± sd"), int(BandKind::kSd));
  m_band->setToolTip(tr("How a study's group shows the spread of its runs around their mean"));
  auto* log = new QCheckBox(tr("Log scale"), this);
  log->setToolTip(tr("Training loss on a logarithmic axis"));
  m_log = log;
  auto* exportButton = new QToolButton(this);
  exportButton->setText(tr("Export"));
  exportButton->setPopupMode(QToolButton::InstantPopup);
  auto* menu = new QMenu(exportButton);
  exportButton->setMenu(menu);
  bar->addWidget(new QLabel(tr("Smoothing"), this));
  bar->addWidget(m_smoothing);
  bar->addWidget(m_smoothingLabel);
  bar->addSpacing(16);
  bar->addWidget(log);
  bar->addWidget(m_band);
  bar->addStretch(1);
  bar->addWidget(new QLabel(tr("Drag to pan, wheel to zoom, double-click to fit"), this));
  bar->addWidget(exportButton);
  layout->addLayout(bar);

  auto* split = new QSplitter(Qt::Horizontal, this);
  auto* lossPlot = new QCustomPlot(split);
  auto* errorPlot = new QCustomPlot(split);
  split->addWidget(lossPlot);
  split->addWidget(errorPlot);
  split->setSizes({1, 1});
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  layout->addWidget(split, 1);
  m_loss = new CurvePlot(lossPlot, tr("step"), tr("training loss"));
  m_loss->setTitle(tr("Training loss"));
  m_error = new CurvePlot(errorPlot, tr("epoch"), tr("top-1 error (%)"));
  m_error->setTitle(tr("Top-1 error (dashed: train, solid: val, ● best)"));
  m_loss->setIdleHint(tr("Check runs in the run browser to plot their training loss"));
  m_error->setIdleHint(tr("Check runs in the run browser to plot their error"));
  m_loss->setWaitingHint(tr("The checked runs have not logged a step yet"));
  m_error->setWaitingHint(tr("The checked runs have not been evaluated yet"));

  menu->addAction(tr("Loss plot as PNG/SVG/PDF…"), this, [this] { chooseImageFile(m_loss, QStringLiteral("loss")); });
  menu->addAction(tr("Error plot as PNG/SVG/PDF…"), this, [this] { chooseImageFile(m_error, QStringLiteral("error")); });
  menu->addAction(tr("All points as CSV…"), this, &CurvesView::chooseCsvFile);

  connect(m_smoothing, &QSlider::valueChanged, this, [this](int v) {
    m_smoothingLabel->setText(QString::number(v / 100.0, 'f', 2));
    m_loss->setSmoothing(v / 100.0);
    m_error->setSmoothing(v / 100.0);
    QSettings().setValue(QStringLiteral("curves/smoothing"), v);
  });
  connect(log, &QCheckBox::toggled, this, [this](bool on) {
    m_loss->setLogScale(on);
    QSettings().setValue(QStringLiteral("curves/log"), on);
  });
  m_smoothing->setValue(QSettings().value(QStringLiteral("curves/smoothing"), 60).toInt());
  log->setChecked(QSettings().value(QStringLiteral("curves/log"), false).toBool());
  m_smoothingLabel->setText(QString::number(m_smoothing->value() / 100.0, 'f', 2));
  // The error plot has no smoothing: one point per epoch.
  m_error->setSmoothing(0);
  m_band->setCurrentIndex(QSettings().value(QStringLiteral("curves/band"), 0).toInt());
  connect(m_band, &QComboBox::currentIndexChanged, this, [this](int i) {
    QSettings().setValue(QStringLiteral("curves/band"), i);
    refresh();
  });
  connect(m_catalog, &RunCatalog::runUpdated, this, [this](const QString& path) {
    const RunRecord* r = m_catalog->find(path);
    if (m_runs.contains(path) || (r && !r->variant.isEmpty() && m_groups.contains(r->study + QLatin1Char('/') + r->variant)))
      refresh();
  });
  connect(m_catalog, &RunCatalog::runsChanged, this, &CurvesView::refresh);
}


void CurvesView::setRuns(const QStringList& paths) {
  m_runs = paths;
  refresh();
}

void CurvesView::setGroups(const QStringList& keys) {
  m_groups = keys;
  refresh();
}

void CurvesView::refresh() {
  std::vector<Series> loss, error;
  const auto band = BandKind(m_band->currentData().toInt());
  for (const QString& key : m_groups) {
    const RunGroup* g = m_catalog->findGroup(key);
    if (!g) continue;
    const auto runs = m_catalog->runsOf(*g);
    for (auto& s : group_loss_series(*g, runs, band)) loss.push_back(std::move(s));
    for (auto& s : group_error_series(*g, runs, band)) error.push_back(std::move(s));
  }
  for (const QString& p : m_runs) {
    const RunRecord* r = m_catalog->find(p);
    if (!r) continue;
    for (auto& s : loss_series(*r)) loss.push_back(std::move(s));
    for (auto& s : error_series(*r)) error.push_back(std::move(s));
  }
  m_loss->setSeries(std::move(loss));
  m_error->setSeries(std::move(error));
  m_error->setSmoothing(0);
}

namespace {

// Where exports go: the folder of the last one, else the home folder (not "/", where an empty
// folder and a file name would have pointed the dialog).
QString export_dir() { return QSettings().value(QStringLiteral("dirs/export"), QDir::homePath()).toString(); }

}  // namespace

void CurvesView::chooseImageFile(CurvePlot* plot, const QString& what) {
  QSettings settings;
  const QString dir = export_dir();
  const QString path = QFileDialog::getSaveFileName(this, tr("Export the %1 plot").arg(what),
                                                    dir + QStringLiteral("/%1.png").arg(what),
                                                    tr("Images (*.png *.svg *.pdf)"));
  if (path.isEmpty()) return;
  settings.setValue(QStringLiteral("dirs/export"), QFileInfo(path).absolutePath());
  exportImage(plot, path);
}

void CurvesView::chooseCsvFile() {
  QSettings settings;
  const QString dir = export_dir();
  const QString path = QFileDialog::getSaveFileName(this, tr("Export every point"), dir + QStringLiteral("/curves.csv"),
                                                    tr("CSV (*.csv)"));
  if (path.isEmpty()) return;
  settings.setValue(QStringLiteral("dirs/export"), QFileInfo(path).absolutePath());
  exportCsv(path);
}

bool CurvesView::exportImage(CurvePlot* plot, const QString& path) {
  QString error;
  if (!plot->exportImage(path, &error)) {
    Q_EMIT message(error);
    return false;
  }
  Q_EMIT message(tr("Wrote %1").arg(path), MessageKind::kPositive);
  return true;
}

bool CurvesView::exportCsv(const QString& path) {
  // Both plots in one file; the series names say which curve a row belongs to.
  std::vector<Series> all;
  for (auto* p : {m_loss, m_error}) all.insert(all.end(), p->series().begin(), p->series().end());
  QCustomPlot scratch;
  CurvePlot combined(&scratch, {}, {});
  combined.setSeries(all);
  QString error;
  if (!combined.exportCsv(path, &error)) {
    Q_EMIT message(error);
    return false;
  }
  Q_EMIT message(tr("Wrote %1").arg(path), MessageKind::kPositive);
  return true;
}

}  // namespace gex::ui
