#include "compare_view.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QGridLayout>
#include <QHeaderView>
#include <QLabel>
#include <QSettings>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>
#include <map>

#include "analysis/statistics.h"
#include "analysis/study_statistics.h"
#include "curve_plot.h"
#include "curves_view.h"
#include "job_bar.h"
#include "model_info.h"
#include "plot_style.h"
#include "probe_timeline.h"
#include "run_catalog.h"

namespace gex::ui {

namespace {

const QString kOrder = QStringLiteral("csi-desc");
enum Column { kRun, kParams, kMacs, kBest, kSpeed, kColumns };
enum StudyColumn { kVariant, kRuns, kFinal, kDifference, kImprovement, kStudyColumns };

// How the paper writes a variant: "GE-θ⁺", "GE-θ (e = 4)".
QString variant_name(const QString& variant) {
  QString base = variant, extent;
  if (const int e = variant.lastIndexOf(QStringLiteral("-e")); e > 0) base = variant.left(e), extent = variant.mid(e + 2);
  const QHash<QString, QString> names = {{QStringLiteral("baseline"), QStringLiteral("baseline")},
                                         {QStringLiteral("se"), QStringLiteral("SE")},
                                         {QStringLiteral("theta-minus"), QStringLiteral("GE-θ⁻")},
                                         {QStringLiteral("theta"), QStringLiteral("GE-θ")},
                                         {QStringLiteral("theta-plus"), QStringLiteral("GE-θ⁺")}};
  const QString name = names.value(base, base);
  return extent.isEmpty() ? name : QStringLiteral("%1 (e = %2)").arg(name, extent);
}

QString percent(double v) { return QString::number(100 * v, 'f', 2); }

// A difference with its sign, the minus typeset as in the words below the table (−0.42, +0.10, 0.00).
QString signed_number(double v, int decimals) {
  const QString digits = QString::number(std::abs(v), 'f', decimals);
  if (digits == QString::number(0.0, 'f', decimals)) return digits;
  return (v > 0 ? QStringLiteral("+") : QStringLiteral("−")) + digits;
}

QString signed_percent(double v) { return signed_number(100 * v, 2); }
}  // namespace

CompareView::CompareView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent)
    : QWidget(parent),
      m_catalog(catalog),
      m_models(models),
      m_store(new AnalysisStore(this)),
      m_jobs(new JobBar({}, 0, this)),
      m_timeline(new ProbeTimeline(catalog, this)) {
  m_timeline->setAlignByEpoch(true);
  connect(m_timeline, &ProbeTimeline::stepChanged, this, &CompareView::analyse);
  connect(m_timeline, &ProbeTimeline::probesChanged, this, &CompareView::analyse);
  connect(m_timeline, &ProbeTimeline::message, this, [this](const QString& e) { Q_EMIT message(e); });
  for (int i = 0; i < 2; ++i) {
    m_runs[i] = new QComboBox(this);
    m_runs[i]->setMinimumContentsLength(16);
    m_runs[i]->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_runs[i]->setToolTip(i == 0 ? tr("A run without attention modules") : tr("A run with GE (or SE) modules"));
    m_jobs->addControl(i == 0 ? tr("Baseline") : tr("GE"), m_runs[i]);
  }
  m_band = new QComboBox(this);
  m_band->addItem(tr("Band: min–max"), int(BandKind::kMinMax));
  m_band->addItem(tr("Band: ± sd"), int(BandKind::kSd));
  m_band->setToolTip(tr("How a study's group shows the spread of its runs around their mean"));
  m_band->setCurrentIndex(QSettings().value(QStringLiteral("curves/band"), 0).toInt());
  m_jobs->addControl(m_band);
  m_block = new QComboBox(this);
  m_block->setToolTip(tr("The block whose pruning curves (csi-desc) are drawn; or click a block in the selectivity plot"));
  m_jobs->addControl(tr("Pruned block"), m_block);
  m_table = new QTableWidget(3, kColumns, this);
  m_table->setHorizontalHeaderLabels({tr("Run"), tr("Parameters"), tr("GMACs"), tr("Best top-1 error"), tr("Images/s")});
  m_table->verticalHeader()->setVisible(false);
  // The names take the spare width; the figures sit in fitted columns beside them (a stretched
  // last column left its right-aligned figures a window's width from their row's name).
  m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::Stretch);
  m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  m_words = new QLabel(this);
  m_words->setWordWrap(true);
  m_words->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_words->setVisible(false);
  auto* curves = new QCustomPlot(this);
  m_curves = new CurvePlot(curves, tr("epoch"), tr("top-1 error (%)"));
  m_curves->setTitle(tr("Top-1 error (dashed: train, solid: val)"));
  m_curves->setIdleHint(tr("Pick a baseline and a GE run above"));
  m_curves->setWaitingHint(tr("The runs have no error logged yet"));
  m_selectivity = new QCustomPlot(this);
  follow_palette(m_selectivity);
  legend_below(m_selectivity);
  m_selectivity->xAxis->setLabel(tr("block (by depth); click to prune it"));
  m_selectivity->yAxis->setLabel(tr("CSI (median, IQR)"));  // short: the plot is short
  m_selectivity->yAxis->ticker()->setTickCount(3);
  m_pruning = new QCustomPlot(this);
  follow_palette(m_pruning);
  legend_below(m_pruning);
  m_pruning->xAxis->setLabel(tr("fraction of channels pruned (csi-desc)"));
  m_pruning->yAxis->setLabel(tr("top-1 error (%)"));
  for (auto* plot : {curves, m_selectivity, m_pruning}) plot->setMinimumSize(240, 160);
  auto* grid = new QGridLayout;
  grid->addWidget(curves, 0, 0, 2, 1);
  grid->addWidget(m_selectivity, 0, 1);
  grid->addWidget(m_pruning, 1, 1);
  grid->setColumnStretch(0, 1);
  grid->setColumnStretch(1, 1);
  auto* layout = new QVBoxLayout(this);
  layout->addWidget(m_jobs);
  layout->addWidget(m_timeline);
  layout->addWidget(m_table);
  layout->addWidget(m_words);
  layout->addLayout(grid, 1);
  for (int side = 0; side < 2; ++side)
    connect(m_runs[side], &QComboBox::activated, this, [this, side] {  // the user's pick survives a restart
      QSettings().setValue(side == 0 ? QStringLiteral("compare/baseline") : QStringLiteral("compare/ge"), choice(side));
    });
  for (auto* c : m_runs) connect(c, &QComboBox::currentIndexChanged, this, &CompareView::refresh);
  connect(m_band, &QComboBox::currentIndexChanged, this, [this](int i) {
    QSettings().setValue(QStringLiteral("curves/band"), i);
    refresh();
  });
  connect(m_catalog, &RunCatalog::runUpdated, this, [this](const QString& path) {
    const RunRecord* r = m_catalog->find(path);
    if (r && !r->study.isEmpty() && (choice(0).startsWith(r->study + QLatin1Char('/')) ||
                                     choice(1).startsWith(r->study + QLatin1Char('/'))))
      refresh();  // a study growing: its means, bands and table
  });
  connect(m_block, &QComboBox::currentIndexChanged, this, &CompareView::analyse);
  connect(m_selectivity, &QCustomPlot::mousePress, this, [this](QMouseEvent* e) {
    const int layer = int(std::lround(m_selectivity->xAxis->pixelToCoord(e->position().x())));
    if (layer >= 0 && layer < int(m_csi[0].size())) setBlock(m_csi[0][layer].layer);
  });
  connect(m_catalog, &RunCatalog::runsChanged, this, &CompareView::refreshRuns);
  connect(m_models, &ModelInfoCache::ready, this, [this] {
    fillTable();
    refreshBlocks();
  });
  connect(m_jobs, &JobBar::cancelRequested, m_store, &AnalysisStore::cancel);
  connect(m_store, &AnalysisStore::jobStarted, m_jobs, &JobBar::track);
  connect(m_store, &AnalysisStore::failed, this, [this](const QString& e) { Q_EMIT message(e); });
  connect(m_store, &AnalysisStore::warned, this, [this](const QString& w) { Q_EMIT message(w, MessageKind::kWarning); });
  connect(m_store, &AnalysisStore::dataMissing, this, &CompareView::dataMissing);
  connect(m_store, &AnalysisStore::changed, this, &CompareView::analyse);
  refreshRuns();
}

CompareView::~CompareView() = default;

bool CompareView::isBusy() const { return m_store->isBusy(); }

QString CompareView::choice(int side) const { return m_runs[side]->currentData().toString(); }

QString CompareView::run(int side) const {
  const QString chosen = choice(side);
  if (const RunGroup* g = m_catalog->findGroup(chosen)) {
    const RunRecord* r = m_catalog->analysedRunOf(*g);
    return r ? r->path : QString();
  }
  return chosen;
}

Shown CompareView::shown(int side) const {
  auto shown = shown_of(*m_catalog, {choice(side)});
  return shown.empty() ? Shown{} : shown.front();
}

std::vector<const RunRecord*> CompareView::panelRuns(int side) const { return shown(side).runs; }

QString CompareView::legendName(int side, std::optional<BandKind> band) const {
  if (const RunGroup* g = m_catalog->findGroup(choice(side))) {
    const size_t total = panelRuns(side).size();
    const QString runs = band ? band_words(*band, size_t(m_pooled[side].pruning), total)
                              : runs_words(size_t(m_pooled[side].selectivity), total);
    return QStringLiteral("%1 (%2)").arg(variant_name(g->variant), runs);
  }
  // Short ("theta-minus · seed-1") where both runs are of one study, which the table names in
  // full; else the name, since "baseline · seed-1" would not say of which study.
  const RunRecord* r = m_catalog->find(run(side));
  if (!r) return m_runs[side]->currentText();
  const RunRecord* other = m_catalog->find(run(1 - side));
  return other && other->study == r->study ? r->shortName() : r->name;
}

QColor CompareView::sideColour(int side) const {
  // A group's panels in the group's colour (as its curves are drawn).
  if (const RunGroup* g = m_catalog->findGroup(choice(side))) return run_color(g->colour);
  const RunRecord* r = m_catalog->find(run(side));
  return run_color(r ? r->colour : side);
}

void CompareView::refreshRuns() {
  const QString pick[2] = {choice(0), choice(1)};
  for (int side = 0; side < 2; ++side) {
    QSignalBlocker block(m_runs[side]);
    m_runs[side]->clear();
    for (const auto& g : m_catalog->groups()) {  // a study's variants first: the comparison to trust
      const auto runs = m_catalog->runsOf(g);
      if (runs.empty()) continue;
      const bool baseline = runs.front()->config.model.attention == AttentionKind::kNone;
      if ((side == 0) == baseline) {  // the variant first: the study's name is the same on both sides
        const QString size = runs.size() == 1 ? tr("1 run") : tr("mean of %1 runs").arg(runs.size());
        m_runs[side]->addItem(tr("%1: %2 · %3").arg(variant_name(g.variant), size, QFileInfo(g.study).fileName()), g.key);
        m_runs[side]->setItemData(m_runs[side]->count() - 1, g.name, Qt::ToolTipRole);
      }
    }
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
    const RunGroup* g = m_catalog->findGroup(paths[side]);
    const int i = r ? m_runs[side]->findData(r->path) : g ? m_runs[side]->findData(g->key) : -1;
    if (i >= 0) m_runs[side]->setCurrentIndex(i);
    else if (!paths[side].isEmpty()) Q_EMIT message(tr("%1: no such run with a checkpoint").arg(paths[side]));
  }
}

void CompareView::setBlock(const QString& block) { m_block->setCurrentText(block); }

void CompareView::retry() {
  m_store->retry();
  analyse();
}

void CompareView::refresh() {
  std::vector<Series> series;
  const auto band = BandKind(m_band->currentData().toInt());
  for (int side = 0; side < 2; ++side) {
    if (const RunGroup* g = m_catalog->findGroup(choice(side))) {
      for (auto& s : group_error_series(*g, m_catalog->runsOf(*g), band)) {
        if (s.legendLabel.startsWith(g->name))  // "GE-θ⁻ (mean …)": the pickers above name the study
          s.legendLabel = variant_name(g->variant) + s.legendLabel.mid(g->name.size());
        series.push_back(std::move(s));
      }
    } else if (const RunRecord* r = m_catalog->find(choice(side))) {
      for (auto& s : error_series(*r)) series.push_back(std::move(s));
    }
  }
  m_curves->setSeries(std::move(series));
  m_curves->setSmoothing(0);
  fillTable();
  refreshBlocks();
  m_timeline->setRuns(timeline_runs({shown(0), shown(1)}));
  analyse();
}

void CompareView::fillTable() {
  m_table->clearContents();
  m_words->setVisible(false);
  m_words->setToolTip({});
  for (int side : {1, 0})
    if (const RunGroup* g = m_catalog->findGroup(choice(side))) return fillStudyTable(g->study);
  m_table->setColumnCount(kColumns);
  m_table->setRowCount(3);
  m_table->setHorizontalHeaderLabels({tr("Run"), tr("Parameters"), tr("GMACs"), tr("Best top-1 error"), tr("Images/s")});
  m_table->setMaximumHeight(m_table->horizontalHeader()->sizeHint().height() +
                            3 * m_table->verticalHeader()->defaultSectionSize() + 6);
  const RunRecord* runs[2] = {m_catalog->find(run(0)), m_catalog->find(run(1))};
  const ModelInfo* info[2] = {nullptr, nullptr};
  const auto cell = [this](int row, int col, const QString& text, const QColor& colour = {}) {
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(col == kRun ? Qt::AlignLeft | Qt::AlignVCenter : Qt::AlignRight | Qt::AlignVCenter);
    if (colour.isValid()) item->setForeground(colour);
    m_table->setItem(row, col, item);
  };
  for (int side = 0; side < 2; ++side) {
    const RunRecord* r = runs[side];
    if (!r) continue;
    info[side] = m_models->get(r->config.model);
    const QString counting = tr("…");
    cell(side, kRun, r->name, run_color(r->colour));
    cell(side, kParams, info[side] ? QStringLiteral("%1 M").arg(double(info[side]->params) / 1e6, 0, 'f', 3) : counting);
    cell(side, kMacs, info[side] ? QString::number(double(info[side]->macs) / 1e9, 'f', 4) : counting);
    cell(side, kBest, std::isnan(r->best_error) ? QStringLiteral("–")
                                               : QStringLiteral("%1 % (epoch %2)").arg(100 * r->best_error, 0, 'f', 2)
                                                     .arg(r->best_epoch, 0, 'g', 3));
    cell(side, kSpeed, QString::number(r->images_per_second, 'f', 0));
    if (info[side] && !info[side]->error.isEmpty()) Q_EMIT message(info[side]->error);
  }
  if (!runs[0] || !runs[1]) return;
  // GE − baseline: what the module costs and what it buys.
  cell(2, kRun, tr("GE − baseline"));
  if (info[0] && info[1]) {
    cell(2, kParams, QStringLiteral("%1 M").arg(signed_number(double(info[1]->params - info[0]->params) / 1e6, 3)));
    cell(2, kMacs, signed_number(double(info[1]->macs - info[0]->macs) / 1e9, 4));
  }
  if (!std::isnan(runs[0]->best_error) && !std::isnan(runs[1]->best_error)) {
    const double d = 100 * (runs[1]->best_error - runs[0]->best_error);
    cell(2, kBest, QStringLiteral("%1 points").arg(signed_number(d, 2)));
  }
  if (runs[0]->images_per_second > 0)
    cell(2, kSpeed, QStringLiteral("%1×").arg(runs[1]->images_per_second / runs[0]->images_per_second, 0, 'f', 3));
}

// Every variant of the study: its final error over its finished runs (mean ± sd) and against the
// baseline the paired difference with its 95 % t-interval and the probability of improvement.
void CompareView::fillStudyTable(const QString& study) {
  std::vector<StudyRow> rows;
  QHash<QString, int> colours;
  for (const auto& g : m_catalog->groups()) {
    if (g.study != study) continue;
    colours.insert(g.variant, g.colour);
    for (const RunRecord* r : m_catalog->runsOf(g)) {
      StudyRow row;
      row.variant = g.variant.toStdString();
      row.seed = r->config.seed;
      row.final_top1_error = run_result(r->metrics).final_top1_error;
      row.finished = r->status == RunStatus::kFinished;
      rows.push_back(row);
    }
  }
  const auto summaries = summarize_study(rows);
  m_table->setColumnCount(kStudyColumns);
  m_table->setRowCount(int(summaries.size()));
  m_table->setHorizontalHeaderLabels({tr("Variant"), tr("Finished runs"), tr("Final top-1 error (mean ± sd)"),
                                      tr("− baseline (95 % CI, paired)"), tr("P(beats baseline)")});
  m_table->setMaximumHeight(m_table->horizontalHeader()->sizeHint().height() +
                            int(std::max<size_t>(summaries.size(), 1)) * m_table->verticalHeader()->defaultSectionSize() + 6);
  const auto cell = [this](int row, int col, const QString& text, const QColor& colour = {}) {
    auto* item = new QTableWidgetItem(text);
    item->setTextAlignment(col == kVariant ? Qt::AlignLeft | Qt::AlignVCenter : Qt::AlignRight | Qt::AlignVCenter);
    if (colour.isValid()) item->setForeground(colour);
    m_table->setItem(row, col, item);
  };
  QStringList words;
  for (int i = 0; i < int(summaries.size()); ++i) {
    const auto& s = summaries[size_t(i)];
    const QString variant = QString::fromStdString(s.variant);
    cell(i, kVariant, variant_name(variant), run_color(colours.value(variant)));
    cell(i, kRuns, QString::number(s.final_error.n));
    cell(i, kFinal, s.final_error.n > 1  // one run has no spread
                        ? QStringLiteral("%1 ± %2 %").arg(percent(s.final_error.mean), percent(s.final_error.sd))
                        : QStringLiteral("%1 %").arg(percent(s.final_error.mean)));
    if (s.difference && s.difference->ci95)
      cell(i, kDifference, QStringLiteral("%1 (%2 to %3)").arg(signed_percent(s.difference->mean), signed_percent(s.difference->ci95->low),
                                                               signed_percent(s.difference->ci95->high)));
    else if (s.difference)
      cell(i, kDifference, signed_percent(s.difference->mean));
    if (s.improvement)
      cell(i, kImprovement,
           s.improvement->ci95 ? QStringLiteral("%1 (%2 to %3)").arg(s.improvement->probability, 0, 'f', 2)
                                     .arg(s.improvement->ci95->low, 0, 'f', 2).arg(s.improvement->ci95->high, 0, 'f', 2)
                               : tr("%1 (one run: no interval)").arg(s.improvement->probability, 0, 'f', 2));
    if (s.improvement) words << QString::fromStdString(describe_difference(s, variant_name(variant).toStdString()));
  }
  // How to read the table: on its headers and the words, not in lines of their own (the plots
  // below need the height on a laptop's screen).
  const QString errors = tr("Errors in points of %, final epoch; the interval pairs runs of the same seed.");
  const QString improvement = tr("P(beats baseline): a run of the variant has the lower error (rliable's probability "
                                 "of improvement, bootstrap interval).");
  m_table->horizontalHeaderItem(kFinal)->setToolTip(errors);
  m_table->horizontalHeaderItem(kDifference)->setToolTip(errors);
  m_table->horizontalHeaderItem(kImprovement)->setToolTip(improvement);
  m_words->setToolTip(errors + QLatin1Char('\n') + improvement);
  m_words->setText(words.isEmpty() ? tr("No finished baseline runs in this study to compare with.")
                                   : words.join(QLatin1Char('\n')));
  m_words->setVisible(true);
}

void CompareView::refreshBlocks() {
  // Blocks of the baseline's model; the GE model of the same backbone has the same ones.
  QStringList names;
  if (const RunRecord* r = m_catalog->find(run(0))) {
    const ModelInfo* info = m_models->get(r->config.model);
    if (!info) return;  // being counted (ready() comes back here): the block picked so far stays meanwhile
    names = info->stages + info->blocks;
  }
  if (set_block_choices(m_block, names)) analyse();
}

CompareView::RunAnalyses CompareView::analysesOf(const RunRecord& run, const QString& probe, const QString& block) {
  RunAnalyses a;
  std::vector<PruningPoint> points;
  if (!probe.isEmpty()) {
    const QDir dir(probe);
    a.csi = read_selectivity(dir.filePath(QStringLiteral("selectivity.csv")));
    const QString prune = dir.filePath(QStringLiteral("prune-%1.csv").arg(block));
    if (!block.isEmpty() && QFileInfo::exists(prune)) {
      for (const auto& p : read_pruning(prune))
        if (p.order == kOrder) points.push_back(p);
    } else if (!block.isEmpty()) {  // the probes did not record this block: its curve at the best checkpoint
      if (const auto* p = m_store->pruning(run, block, kOrder, kLimit)) points = *p;
    }
  } else {
    if (const auto* c = m_store->selectivity(run, kLimit)) a.csi = *c;
    if (!block.isEmpty())
      if (const auto* p = m_store->pruning(run, block, kOrder, kLimit)) points = *p;
  }
  a.curve = mean_by_ratio(points);
  return a;
}

void CompareView::analyse() {
  if (!isVisible()) {
    m_stale = true;
    return;
  }
  m_stale = false;
  m_store->dropWaiting();  // asked again below where still shown
  const QString block = m_block->currentText();
  for (int side = 0; side < 2; ++side) {
    const Shown s = shown(side);
    std::vector<std::vector<LayerSelectivity>> csi;
    std::vector<std::map<double, double>> curves;
    for (const RunRecord* r : s.runs) {
      const bool fromProbes = s.group ? s.probed : !m_timeline->records(r->path).empty();
      const QString dir = !fromProbes ? QString()
                          : s.group   ? m_timeline->exactProbeDir(r->path)
                                      : m_timeline->currentProbeDir(r->path);
      if (fromProbes && dir.isEmpty()) continue;  // not probed at this point
      auto [runCsi, curve] = analysesOf(*r, dir, block);
      if (!runCsi.empty()) csi.push_back(std::move(runCsi));
      if (!curve.empty()) curves.push_back(std::move(curve));
    }
    m_csi[side] = pool_selectivity(csi);
    const auto band = BandKind(m_band->currentData().toInt());
    const Series mean = group_series({}, {}, {}, curves, band);
    m_prune[side].clear();
    for (size_t i = 0; i < mean.x.size(); ++i) m_prune[side].push_back({mean.x[i], 0, mean.y[i], kOrder});
    m_pruneLow[side] = curves.size() > 1 ? mean.low : std::vector<double>{};
    m_pruneHigh[side] = curves.size() > 1 ? mean.high : std::vector<double>{};
    m_pooled[side] = {int(csi.size()), int(curves.size())};
  }
  if (!m_store->isBusy())
    m_jobs->setStatus(tr("Analyses over the first %1 test images, cached in each run's analyses/.").arg(kLimit));
  drawSelectivity();
  drawPruning();
}

void CompareView::drawSelectivity() {
  m_selectivity->clearGraphs();
  m_selectivity->clearItems();
  QSharedPointer<QCPAxisTickerText> ticker(new QCPAxisTickerText);
  int layers = 0;
  QStringList blocks;
  for (const auto& l : m_csi[m_csi[0].empty() ? 1 : 0]) blocks << l.layer;
  const QString stem = block_stem(blocks);
  for (int side = 0; side < 2; ++side) {
    if (m_csi[side].empty()) continue;
    QVector<double> x, med, q1, q3;
    for (int l = 0; l < int(m_csi[side].size()); ++l) {
      const Quartiles q = quartiles(m_csi[side][l].csi);
      x << l;
      med << q.median;
      q1 << q.q1;
      q3 << q.q3;
      ticker->addTick(l, m_csi[side][l].layer.mid(stem.size()));
    }
    layers = std::max(layers, int(x.size()));
    const QColor colour = sideColour(side);
    add_band(m_selectivity, x, q1, q3, colour);
    auto* g = m_selectivity->addGraph();
    g->setPen(QPen(colour, 1.8));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    g->setName(legendName(side));
    g->setData(x, med, true);
  }
  // The block whose pruning curves are drawn: a band behind the points, inside the axes.
  int current = -1;
  for (int side = 0; side < 2 && current < 0; ++side)
    for (int l = 0; l < int(m_csi[side].size()); ++l)
      if (m_csi[side][l].layer == m_block->currentText()) current = l;
  if (current >= 0) {
    auto* marker = new QCPItemRect(m_selectivity);
    marker->topLeft->setType(QCPItemPosition::ptPlotCoords);
    marker->bottomRight->setType(QCPItemPosition::ptPlotCoords);
    marker->topLeft->setCoords(current - 0.3, 1.0);
    marker->bottomRight->setCoords(current + 0.3, 0.0);
    QColor shade = palette().color(QPalette::Highlight);
    shade.setAlpha(50);
    marker->setPen(Qt::NoPen);
    marker->setBrush(shade);
    marker->setLayer(QStringLiteral("background"));
  }
  m_selectivity->xAxis->setTicker(ticker);
  m_selectivity->xAxis->setTickLabelRotation(layers > 20 ? 45 : 0);
  m_selectivity->xAxis->setLabel(stem.isEmpty() ? tr("block (by depth); click to prune it")
                                                : tr("block (%1…, by depth); click to prune it").arg(stem));
  m_selectivity->xAxis->setRange(-0.5, std::max(1, layers) - 0.5);
  m_selectivity->yAxis->setRange(0, 1);
  set_hint(m_selectivity, layers > 0 ? QString() : m_store->isBusy() ? tr("Computing class selectivity…")
                                                                     : tr("Pick a baseline and a GE run above"));
  replot_if_shown(m_selectivity);
}

void CompareView::drawPruning() {
  m_pruning->clearGraphs();
  int drawn = 0;
  for (int side = 0; side < 2; ++side) {
    if (m_prune[side].empty()) continue;
    QVector<double> x, y, low, high;
    for (const auto& p : m_prune[side]) x << p.ratio, y << 100 * p.top1_error;
    for (size_t i = 0; i < m_pruneLow[side].size(); ++i) low << 100 * m_pruneLow[side][i], high << 100 * m_pruneHigh[side][i];
    if (!low.isEmpty()) add_band(m_pruning, x, low, high, sideColour(side));
    auto* g = m_pruning->addGraph();
    g->setPen(QPen(sideColour(side), 1.8));
    g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    g->setName(legendName(side, BandKind(m_band->currentData().toInt())));
    g->setData(x, y, true);
    ++drawn;
  }
  m_pruning->xAxis->setLabel(m_block->currentText().isEmpty()
                                 ? tr("fraction of channels pruned (csi-desc)")
                                 : tr("fraction of %1's channels pruned (csi-desc)").arg(m_block->currentText()));
  set_hint(m_pruning, drawn > 0 ? QString() : m_store->isBusy() ? tr("Pruning…") : tr("Pick a block to prune"));
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
