#include "train_view.h"

#include <algorithm>

#include <QDateTime>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QProgressBar>
#include <QResizeEvent>
#include <QPushButton>
#include <QScrollArea>
#include <QScrollBar>
#include <QSplitter>
#include <QTimer>
#include <QVBoxLayout>

#include "curve_plot.h"
#include "data_relocation.h"
#include "job.h"
#include "train_form.h"
#include "train_process.h"
#include "run_catalog.h"
#include "study_dialog.h"
#include "analysis/study.h"
#include "io/atomic_file.h"
#include "train/trainer.h"

namespace gex::ui {

namespace {

QString duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) return QString::asprintf("%ldh%02ldm", s / 3600, (s / 60) % 60);
  if (s >= 60) return QString::asprintf("%ldm%02lds", s / 60, s % 60);
  return QString::asprintf("%lds", s);
}

// The live plots side by side where each gets kPlotWidth, else one above the other: a narrow
// window (1024 px with the runs panel) shows both whole instead of the second cut at its edge.
class ReflowingSplitter : public QSplitter {
 public:
  static constexpr int kPlotWidth = 240;
  explicit ReflowingSplitter(QWidget* parent) : QSplitter(Qt::Horizontal, parent) {}
  // As narrow as the plots stacked: the width decides the orientation, not the other way round.
  QSize minimumSizeHint() const override {
    QSize size(0, 0);
    for (int i = 0; i < count(); ++i) {
      const QSize child = widget(i)->minimumSizeHint().expandedTo(widget(i)->minimumSize());
      size = QSize(std::max(size.width(), child.width()), size.height() + child.height());
    }
    return size + QSize(0, handleWidth() * std::max(0, count() - 1));
  }

 protected:
  void resizeEvent(QResizeEvent* e) override {
    const Qt::Orientation fits =
        e->size().width() >= count() * kPlotWidth + handleWidth() * (count() - 1) ? Qt::Horizontal : Qt::Vertical;
    if (orientation() != fits) setOrientation(fits);
    QSplitter::resizeEvent(e);
  }
};

}  // namespace

TrainView::TrainView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent)
    : QWidget(parent), m_catalog(catalog) {
  auto* form = new QWidget(this);
  auto* formLayout = new QVBoxLayout(form);
  m_form = new TrainForm(catalog, models, form);
  formLayout->addWidget(m_form);
  formLayout->addStretch(1);
  // The form scrolls when the window is short (a laptop screen) instead of forcing its height.
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(form);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  // As wide as the form asks (it scrolls only vertically: a narrower area would cut its fields off).
  const int bar = scroll->verticalScrollBar()->sizeHint().width();
  scroll->setMinimumWidth(form->minimumSizeHint().width() + bar);
  scroll->setMaximumWidth(std::max(380, form->sizeHint().width() + bar));
  auto* left = new QVBoxLayout;
  left->addWidget(scroll, 1);
  // Under the form, not in it: what the model costs (or what is wrong with the form) and Start,
  // Pause and Stop never scroll away.
  left->addWidget(m_form->summaryLabel());
  left->addLayout(buildButtons());
  auto* layout = new QHBoxLayout(this);
  layout->addLayout(left);
  layout->addWidget(buildProgressAndPlots(), 1);
  connectButtons();
  updateButtons();
}

QGridLayout* TrainView::buildButtons() {
  m_start = new QPushButton(tr("Start"), this);
  m_start->setObjectName(QStringLiteral("start"));
  m_start->setShortcut(QKeySequence(QStringLiteral("Ctrl+Return")));
  m_start->setToolTip(tr("Start a new run in the runs folder (Ctrl+Return)"));
  m_study = new QPushButton(tr("Start study…"), this);
  m_study->setToolTip(tr("These settings for the baseline and GE variants × several seeds: a comparison that says "
                         "how sure it is"));
  m_pause = new QPushButton(tr("Pause"), this);
  m_pause->setObjectName(QStringLiteral("pause"));
  m_pause->setCheckable(true);
  m_pause->setToolTip(tr("Hold the training between two batches; press again to continue"));
  m_stop = new QPushButton(tr("Stop"), this);
  m_stop->setObjectName(QStringLiteral("stop"));
  m_stop->setToolTip(tr("Stop after this batch and keep a resumable checkpoint"));
  m_resume = new QPushButton(tr("Resume selected run"), this);
  m_resume->setObjectName(QStringLiteral("resume"));
  m_resume->setToolTip(tr("Continue the run selected in the run browser from its last checkpoint, with its own settings"));
  auto* buttons = new QGridLayout;
  buttons->addWidget(m_start, 0, 0);
  buttons->addWidget(m_study, 0, 1);
  buttons->addWidget(m_pause, 1, 0);
  buttons->addWidget(m_stop, 1, 1);
  buttons->addWidget(m_resume, 2, 0, 1, 2);
  return buttons;
}

QWidget* TrainView::buildProgressAndPlots() {
  auto* box = new QWidget(this);
  m_progress = new QProgressBar(box);
  m_progress->setRange(0, 1000);
  m_progress->setValue(0);
  m_progressLabel = new QLabel(tr("Idle. Fill in the form and press Start."), box);
  m_progressLabel->setWordWrap(true);
  auto* plots = new ReflowingSplitter(box);
  auto* lossPlot = new QCustomPlot(plots);
  auto* errorPlot = new QCustomPlot(plots);
  for (auto* p : {lossPlot, errorPlot}) p->setMinimumSize(200, 160);
  plots->addWidget(lossPlot);
  plots->addWidget(errorPlot);
  m_loss = new CurvePlot(lossPlot, tr("step"), tr("training loss"));
  m_loss->setTitle(tr("Training loss (live)"));
  m_loss->setIdleHint(tr("Start a run: its loss appears here as it trains"));
  m_loss->setWaitingHint(tr("The loss appears here at the first logged step"));
  m_error = new CurvePlot(errorPlot, tr("epoch"), tr("top-1 error (%)"));
  m_error->setTitle(tr("Top-1 error (live; ● best)"));
  m_error->setIdleHint(tr("The validation error appears after each epoch"));
  m_error->setWaitingHint(tr("The validation error appears after each epoch"));
  m_error->setSmoothing(0);
  plots->setStretchFactor(0, 1);
  plots->setStretchFactor(1, 1);
  auto* right = new QVBoxLayout(box);
  right->setContentsMargins(0, 0, 0, 0);
  right->addWidget(m_progressLabel);
  right->addWidget(m_progress);
  right->addWidget(plots, 1);
  return box;
}

void TrainView::connectButtons() {
  m_progressTimer.setSingleShot(true);
  m_progressTimer.setInterval(500);
  connect(&m_progressTimer, &QTimer::timeout, this, &TrainView::showProgress);
  connect(m_form, &TrainForm::message, this, &TrainView::message);
  connect(m_start, &QPushButton::clicked, this, [this] { start(); });
  connect(m_study, &QPushButton::clicked, this, &TrainView::chooseStudy);
  connect(m_pause, &QPushButton::toggled, this, &TrainView::setPaused);
  connect(m_stop, &QPushButton::clicked, this, &TrainView::stop);
  connect(m_resume, &QPushButton::clicked, this, [this] {
    if (m_selectedRun.isEmpty()) Q_EMIT message(tr("Select a stopped run in the run browser to resume it"), MessageKind::kInformation);
    else resume(m_selectedRun);
  });
}

TrainView::~TrainView() {
  delete m_process;  // stops the training and waits: gex saves `last` and exits
}

void TrainView::updateButtons() {
  const bool busy = isTraining();
  for (QWidget* w : std::initializer_list<QWidget*>{m_start, m_study, m_resume}) w->setEnabled(!busy);
  m_pause->setEnabled(busy);
  m_stop->setEnabled(busy);
}

TrainConfig TrainView::config() const { return m_form->config(); }

void TrainView::setConfig(const TrainConfig& config) { m_form->setConfig(config); }

QString TrainView::complexityText() const { return m_form->complexityText(); }

const QString& TrainView::restoreProblem() const { return m_form->restoreProblem(); }

QString TrainView::newRunDirectory(const TrainConfig& c) const {
  QString name = QString::fromStdString(c.model.backbone);
  if (c.model.attention == AttentionKind::kSE) name += QStringLiteral("-se");
  if (c.model.attention == AttentionKind::kGE)
    name += QStringLiteral("-ge-") + QString::fromStdString(to_string(c.model.variant)) + QLatin1Char('-') +
            QString::fromStdString(extent_to_string(c.model.extent));
  if (c.model.attention == AttentionKind::kNone) name += QStringLiteral("-baseline");
  name += QDateTime::currentDateTime().toString(QStringLiteral("-yyyyMMdd-HHmmss"));
  QString dir = m_catalog->runsDirectory() + QLatin1Char('/') + name;
  for (int i = 2; QFileInfo::exists(dir); ++i)
    dir = m_catalog->runsDirectory() + QLatin1Char('/') + name + QLatin1Char('-') + QString::number(i);
  return dir;
}

bool TrainView::isTraining() const { return m_process && m_process->isRunning(); }

QString TrainView::progressText() const { return m_progressLabel->text(); }

void TrainView::setPaused(bool paused) {
  if (m_process) m_process->setPaused(paused);
  if (m_pause->isChecked() != paused) m_pause->setChecked(paused);
  m_pause->setText(paused ? tr("Continue") : tr("Pause"));
  if (isTraining() && paused) m_progressLabel->setText(tr("Paused: %1").arg(m_progressLabel->text()));
}

void TrainView::stop() {
  if (!m_process) return;
  m_process->stop();
  m_progressLabel->setText(tr("Stopping after this batch…"));
}

bool TrainView::start(const QString& dir) { return startConfig(config(), dir); }

bool TrainView::startConfig(const TrainConfig& c, const QString& dir) {
  if (isTraining()) {
    Q_EMIT message(tr("A run is training already; stop it first"), MessageKind::kWarning);
    return false;
  }
  if (const auto problem = c.model.problem()) {
    Q_EMIT message(QString::fromStdString(*problem));
    return false;
  }
  TrainForm::remember(c);
  launch(dir.isEmpty() ? newRunDirectory(c) : dir, c, false);
  return true;
}

void TrainView::chooseStudy() {
  StudyDialog dialog(m_catalog->runsDirectory(), QString::fromStdString(extent_to_string(config().model.extent)), this);
  if (dialog.exec() == QDialog::Accepted) startStudy(dialog.variants(), dialog.seeds(), dialog.directory());
}

bool TrainView::startStudy(const QStringList& variants, int seeds, const QString& dir) {
  if (isTraining()) {
    Q_EMIT message(tr("A run is training already; stop it first"), MessageKind::kWarning);
    return false;
  }
  const TrainConfig c = config();
  TrainForm::remember(c);
  m_studyDir = dir;
  m_studyRun = m_studyRuns = 0;
  m_progressLabel->setText(tr("Starting study %1…").arg(QFileInfo(dir).fileName()));
  startProcess(study_arguments(c, variants, seeds, dir, m_form->processes()), QString());
  return true;
}

bool TrainView::resume(const QString& runDir) {
  const RunRecord* r = m_catalog->find(runDir);
  if (!r) {
    Q_EMIT message(tr("%1: not a run the browser knows").arg(runDir));
    return false;
  }
  if (r->shipped) {
    Q_EMIT message(tr("%1 is a shipped run and read-only").arg(r->name), MessageKind::kWarning);
    return false;
  }
  if (isTraining()) {
    Q_EMIT message(tr("A run is training already; stop it first"), MessageKind::kWarning);
    return false;
  }
  if (!r->readable) {
    Q_EMIT message(r->message);
    return false;
  }
  if (r->live()) {
    Q_EMIT message(tr("%1 is being trained by another process (it wrote %2)")
                       .arg(r->name, QLocale().toString(r->updated, QLocale::ShortFormat)),
                   MessageKind::kWarning);
    return false;
  }
  if (r->status == RunStatus::kFinished) {
    // Its process would only say so; a longer run from its weights is a new run.
    Q_EMIT message(tr("%1 has finished: nothing to resume. To train on from its weights, pick its checkpoint in "
                      "Start from and press Start")
                       .arg(r->name),
                   MessageKind::kInformation);
    return false;
  }
  const auto movedData = movedDataOf(*r);
  if (!movedData) return false;
  TrainConfig config = r->config;
  if (!movedData->isEmpty()) config.data = movedData->toStdString();
  setConfig(config);  // the form shows the run as it goes on
  launch(r->path, config, true, *movedData);
  return true;
}

std::optional<QString> TrainView::movedDataOf(const RunRecord& run) {
  const DataSpec data = parse_data_spec(run.config.data);
  const QString place = QString::fromStdString(data.dir);
  if (place.isEmpty() || QFileInfo::exists(place)) return QString();
  const QString name = run.name;  // kept: the catalog may rescan while the chooser is open
  const QString now = ask_where_data_is(this, name, run.config.data,
                                        [this](const QString& q) { Q_EMIT message(q, MessageKind::kInformation); });
  if (!now.isEmpty()) return now;
  Q_EMIT message(tr("%1 was not resumed: its data is not at %2").arg(name, place), MessageKind::kWarning);
  return std::nullopt;
}

void TrainView::launch(const QString& dir, const TrainConfig& c, bool resuming, const QString& movedData) {
  m_studyDir.clear();
  followRun(dir, resuming);
  m_progressLabel->setText(resuming ? tr("Resuming %1…").arg(QFileInfo(dir).fileName())
                                    : tr("Loading %1…").arg(QString::fromStdString(c.data)));
  startProcess(resuming ? resume_arguments(dir, m_form->processes(), movedData) : train_arguments(c, dir, m_form->processes()),
               dir);
}

void TrainView::followRun(const QString& dir, bool resuming) {
  m_runDir = dir;
  const QString name = m_studyDir.isEmpty() ? QFileInfo(dir).fileName() : dir.mid(m_studyDir.size() + 1);
  const QColor colour = run_color(m_catalog->runColour(dir));
  Series loss = make_series(name, tr("train loss"), colour);
  Series val = make_series(name, tr("val top-1"), colour);
  val.markBest = true;
  m_earlierRowsOf = resuming ? dir : QString();
  m_loss->setSeries({loss});
  m_error->setSeries({val});
  m_error->setSmoothing(0);
  m_progress->setValue(0);
  m_latest.reset();
  m_lossSteps.clear();
  m_losses.clear();
}

// `dir`: the run, or empty for a study, whose runs the process announces as it reaches them.
void TrainView::startProcess(const QStringList& arguments, const QString& dir) {
  auto* process = new TrainProcess(this);
  m_process = process;
  connect(process, &TrainProcess::progress, this, &TrainView::onProgress);
  connect(process, &TrainProcess::evaluated, this, [this](const EvalReport& r) {
    drawEarlierRows(r.step);
    m_error->append(0, {r.epoch}, {100 * r.eval.top1_error});
  });
  connect(process, &TrainProcess::message, this,
          [this](const QString& m) { Q_EMIT message(m, MessageKind::kWarning); });
  connect(process, &TrainProcess::runStarted, this, [this](const QString& run) {
    ++m_studyRun;
    if (m_studyRuns == 0) {
      try {
        const std::string path = (m_studyDir + QStringLiteral("/study.json")).toStdString();
        const StudyPlan plan = StudyPlan::from_json(read_file(path), path);
        m_studyRuns = int(plan.variants.size() * plan.seeds.size());
      } catch (const std::exception&) {
      }
    }
    followRun(run, QFileInfo::exists(run + QStringLiteral("/run.json")));
    m_progressLabel->setText(tr("Study %1: %2").arg(QFileInfo(m_studyDir).fileName(), runLabel(false)));
    QTimer::singleShot(1500, m_catalog, &RunCatalog::rescan);
    Q_EMIT runStarted(run);
  });
  connect(process, &TrainProcess::finished, this, [this, process](JobOutcome outcome, const QString& error) {
    process->deleteLater();
    onFinished(m_studyDir.isEmpty() ? m_runDir : m_studyDir, int(outcome), error);
  });
  process->start(arguments);
  updateButtons();
  if (dir.isEmpty()) return;
  // The run folder appears once the trainer has written run.json.
  QTimer::singleShot(1500, m_catalog, &RunCatalog::rescan);
  Q_EMIT runStarted(dir);
  Q_EMIT progressChanged(0, QFileInfo(dir).fileName());
}

void TrainView::onFinished(const QString& dir, int outcome, const QString& error) {
  m_progressTimer.stop();
  showProgress();
  const QString name = QFileInfo(dir).fileName();
  const auto o = JobOutcome(outcome);
  m_progressLabel->setText(o == JobOutcome::kFailed      ? tr("%1 failed: %2").arg(name, error)
                           : o == JobOutcome::kCancelled && !m_studyDir.isEmpty()
                               ? tr("Study %1 stopped; Start study… with the same folder and settings continues it").arg(name)
                           : o == JobOutcome::kCancelled ? tr("%1 stopped; resume it from the run browser or with Resume").arg(name)
                                                         : tr("%1 finished").arg(name));
  if (o == JobOutcome::kFailed) Q_EMIT message(error);
  else if (o == JobOutcome::kDone) Q_EMIT message(tr("%1 finished").arg(name), MessageKind::kPositive);
  m_pause->setChecked(false);
  m_catalog->rescan();
  Q_EMIT runFinished(dir, o != JobOutcome::kFailed);
  Q_EMIT progressChanged(-1, name);
  updateButtons();
}

void TrainView::onProgress(const TrainProgress& p) {
  drawEarlierRows(p.step);
  m_latest = p;
  m_lossSteps.push_back(double(p.step));
  m_losses.push_back(p.loss);
  if (!m_progressTimer.isActive()) m_progressTimer.start();
}

void TrainView::drawEarlierRows(int64_t firstNewStep) {
  if (m_earlierRowsOf.isEmpty()) return;
  const QString dir = std::exchange(m_earlierRowsOf, QString());
  std::vector<MetricsRow> rows;
  try {
    rows = read_metrics((dir + QStringLiteral("/metrics.csv")).toStdString());
  } catch (const std::exception&) {
    return;  // the run browser says what is wrong with the file
  }
  std::vector<double> lossX, lossY, valX, valY;
  for (const auto& m : rows) {
    if (m.step >= firstNewStep) continue;
    if (m.split == "train") lossX.push_back(double(m.step)), lossY.push_back(m.loss);
    else valX.push_back(m.epoch), valY.push_back(100 * m.top1_error);
  }
  m_loss->append(0, lossX, lossY);
  m_error->append(0, valX, valY);
}

void TrainView::showProgress() {
  if (!m_latest) return;
  const TrainProgress p = *m_latest;
  m_latest.reset();
  const bool paused = m_process && m_process->isPaused();
  m_progress->setValue(p.total_steps ? int(1000 * p.step / p.total_steps) : 0);
  QString context = paused ? tr("Paused: ") : QString();
  if (!m_studyDir.isEmpty()) context += runLabel(false) + QStringLiteral(": ");
  m_progressLabel->setText(tr("%1epoch %2 · step %3/%4 · loss %5 · %6 images/s · ETA %7")
                               .arg(context)
                               .arg(p.epoch, 0, 'f', 2)
                               .arg(p.step)
                               .arg(p.total_steps)
                               .arg(p.loss, 0, 'f', 4)
                               .arg(p.images_per_second, 0, 'f', 0)
                               .arg(duration(p.eta_seconds)));
  m_loss->append(0, m_lossSteps, m_losses);
  m_lossSteps.clear();
  m_losses.clear();
  Q_EMIT progressChanged(p.total_steps ? double(p.step) / double(p.total_steps) : 0, runLabel());
}

QString TrainView::runLabel(bool withStudy) const {
  if (m_studyDir.isEmpty()) return QFileInfo(m_runDir).fileName();
  const QString run = m_runDir.mid(m_studyDir.size() + 1);  // <variant>/seed-<k>
  const QString study = withStudy ? QFileInfo(m_studyDir).fileName() + QStringLiteral(", ") : QString();
  return m_studyRuns > 0 ? tr("%1run %2 of %3 (%4)").arg(study).arg(m_studyRun).arg(m_studyRuns).arg(run)
                         : study + run;
}

}  // namespace gex::ui
