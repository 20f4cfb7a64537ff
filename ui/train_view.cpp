#include "train_view.h"

#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QThread>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "curve_plot.h"
#include "curves_view.h"
#include "data/dataset.h"
#include "job.h"
#include "models/registry.h"
#include "qcp.h"
#include "run_catalog.h"
#include "train/trainer.h"

namespace gex::ui {

namespace {

QString duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) return QString::asprintf("%ldh%02ldm", s / 3600, (s / 60) % 60);
  if (s >= 60) return QString::asprintf("%ldm%02lds", s / 60, s % 60);
  return QString::asprintf("%lds", s);
}

// What the data set will give the model (the job loads it and takes the real values).
void guess_input(ModelSpec& spec, const std::string& data) {
  const bool colour = data.rfind("cifar", 0) == 0 || data.rfind("folder:", 0) == 0;
  spec.in_channels = colour ? 3 : 1;
  spec.input_size = is_imagenet_backbone(spec.backbone) && colour ? 224 : colour ? 32 : 28;
  spec.num_classes = data.rfind("cifar100", 0) == 0 ? 100 : 10;
}

QComboBox* combo(QWidget* parent, const QStringList& items) {
  auto* c = new QComboBox(parent);
  c->addItems(items);
  return c;
}

}  // namespace

TrainView::TrainView(RunCatalog* catalog, QWidget* parent) : QWidget(parent), m_catalog(catalog) {
  QStringList backbones;
  for (const auto& b : backbone_names()) backbones << QString::fromStdString(b);
  m_backbone = combo(this, backbones);
  m_attention = combo(this, {QStringLiteral("none"), QStringLiteral("se"), QStringLiteral("ge")});
  m_variant = combo(this, {QStringLiteral("theta-minus"), QStringLiteral("theta"), QStringLiteral("theta-plus")});
  m_extent = combo(this, {QStringLiteral("global"), QStringLiteral("2"), QStringLiteral("4"), QStringLiteral("8")});
  m_pool = combo(this, {QStringLiteral("avg"), QStringLiteral("max")});
  m_schedule = combo(this, {QStringLiteral("multistep"), QStringLiteral("cosine"), QStringLiteral("constant")});
  m_device = combo(this, {QStringLiteral("auto"), QStringLiteral("cpu")});
  if (torch::cuda::is_available()) m_device->addItem(QStringLiteral("cuda"));
  m_data = new QLineEdit(QStringLiteral("fashion-mnist"), this);
  m_data->setToolTip(tr("fashion-mnist, mnist:DIR, idx:DIR, cifar10:DIR, cifar100:DIR, folder:DIR or synthetic"));
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(tr("Choose a CIFAR, IDX or image folder"));
  const auto spin = [this](int lo, int hi, int value) {
    auto* s = new QSpinBox(this);
    s->setRange(lo, hi);
    s->setValue(value);
    return s;
  };
  m_epochs = spin(0, 100000, 2);
  m_steps = spin(0, 100000000, 0);
  m_steps->setSpecialValueText(tr("(epochs)"));
  m_batch = spin(1, 65536, 128);
  m_seed = spin(0, 1 << 30, 0);
  m_threads = spin(1, 256, QThread::idealThreadCount());
  m_lr = new QDoubleSpinBox(this);
  m_lr->setDecimals(4);
  m_lr->setRange(1e-4, 10);
  m_lr->setSingleStep(0.01);
  m_lr->setValue(0.1);
  m_wd = new QDoubleSpinBox(this);
  m_wd->setDecimals(5);
  m_wd->setRange(0, 1);
  m_wd->setSingleStep(1e-4);
  m_wd->setValue(1e-4);
  m_complexity = new QLabel(this);
  m_complexity->setWordWrap(true);

  auto* form = new QFormLayout;
  form->addRow(tr("Backbone"), m_backbone);
  form->addRow(tr("Attention"), m_attention);
  form->addRow(tr("GE variant"), m_variant);
  form->addRow(tr("GE extent"), m_extent);
  form->addRow(tr("θ⁻ pooling"), m_pool);
  auto* dataRow = new QHBoxLayout;
  dataRow->addWidget(m_data, 1);
  dataRow->addWidget(browse);
  form->addRow(tr("Data"), dataRow);
  form->addRow(tr("Epochs"), m_epochs);
  form->addRow(tr("or steps"), m_steps);
  form->addRow(tr("Batch"), m_batch);
  form->addRow(tr("Learning rate"), m_lr);
  form->addRow(tr("Schedule"), m_schedule);
  form->addRow(tr("Weight decay"), m_wd);
  form->addRow(tr("Seed"), m_seed);
  form->addRow(tr("Device"), m_device);
  form->addRow(tr("Threads"), m_threads);
  form->addRow(m_complexity);

  m_start = new QPushButton(tr("Start"), this);
  m_start->setShortcut(QKeySequence(QStringLiteral("Ctrl+Return")));
  m_start->setToolTip(tr("Start a new run (Ctrl+Return)"));
  m_pair = new QPushButton(tr("Train baseline and GE"), this);
  m_pair->setToolTip(tr("The same settings without attention, then with the GE module chosen above"));
  m_pause = new QPushButton(tr("Pause"), this);
  m_pause->setCheckable(true);
  m_stop = new QPushButton(tr("Stop"), this);
  m_stop->setToolTip(tr("Stop after this batch and keep a resumable checkpoint"));
  m_resume = new QPushButton(tr("Resume selected run"), this);
  auto* buttons = new QGridLayout;
  buttons->addWidget(m_start, 0, 0);
  buttons->addWidget(m_pair, 0, 1);
  buttons->addWidget(m_pause, 1, 0);
  buttons->addWidget(m_stop, 1, 1);
  buttons->addWidget(m_resume, 2, 0, 1, 2);
  auto* left = new QWidget(this);
  auto* leftLayout = new QVBoxLayout(left);
  leftLayout->addLayout(form);
  leftLayout->addLayout(buttons);
  leftLayout->addStretch(1);
  left->setMaximumWidth(360);

  m_progress = new QProgressBar(this);
  m_progress->setRange(0, 1000);
  m_progress->setValue(0);
  m_progressLabel = new QLabel(tr("Idle. Fill in the form and press Start."), this);
  auto* plots = new QSplitter(Qt::Horizontal, this);
  auto* lossPlot = new QCustomPlot(plots);
  auto* errorPlot = new QCustomPlot(plots);
  plots->addWidget(lossPlot);
  plots->addWidget(errorPlot);
  m_loss = new CurvePlot(lossPlot, tr("step"), tr("training loss"));
  m_loss->setTitle(tr("Training loss (live)"));
  m_error = new CurvePlot(errorPlot, tr("epoch"), tr("top-1 error (%)"));
  m_error->setTitle(tr("Top-1 error (live; ● best)"));
  m_error->setSmoothing(0);
  plots->setStretchFactor(0, 1);
  plots->setStretchFactor(1, 1);
  auto* right = new QVBoxLayout;
  right->addWidget(m_progressLabel);
  right->addWidget(m_progress);
  right->addWidget(plots, 1);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(left);
  layout->addLayout(right, 1);

  auto* debounce = new QTimer(this);
  debounce->setSingleShot(true);
  debounce->setInterval(150);
  connect(debounce, &QTimer::timeout, this, &TrainView::updateComplexity);
  for (auto* c : {m_backbone, m_attention, m_variant, m_extent, m_pool})
    connect(c, &QComboBox::currentIndexChanged, debounce, qOverload<>(&QTimer::start));
  connect(m_data, &QLineEdit::editingFinished, debounce, qOverload<>(&QTimer::start));
  connect(m_attention, &QComboBox::currentIndexChanged, this, &TrainView::updateButtons);
  connect(m_variant, &QComboBox::currentIndexChanged, this, &TrainView::updateButtons);
  connect(browse, &QToolButton::clicked, this, [this, debounce] {
    QSettings settings;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("A CIFAR, IDX or image folder"),
                                                          settings.value(QStringLiteral("dirs/data")).toString());
    if (dir.isEmpty()) return;
    settings.setValue(QStringLiteral("dirs/data"), dir);
    QDir d(dir);
    QString kind = QStringLiteral("folder");
    if (d.exists(QStringLiteral("data_batch_1.bin"))) kind = QStringLiteral("cifar10");
    else if (d.exists(QStringLiteral("train.bin"))) kind = QStringLiteral("cifar100");
    else if (!d.entryList({QStringLiteral("*-idx3-ubyte*")}).isEmpty()) kind = QStringLiteral("idx");
    m_data->setText(kind + QLatin1Char(':') + dir);
    debounce->start();
  });
  connect(m_start, &QPushButton::clicked, this, [this] { start(); });
  connect(m_pair, &QPushButton::clicked, this, &TrainView::startPair);
  connect(m_pause, &QPushButton::toggled, this, &TrainView::setPaused);
  connect(m_stop, &QPushButton::clicked, this, &TrainView::stop);
  connect(m_resume, &QPushButton::clicked, this, [this] {
    const QString run = m_selectedRun;
    if (run.isEmpty()) Q_EMIT message(tr("Select a stopped run in the run browser to resume it"));
    else resume(run);
  });
  // The last form started, else the shipped GE run's settings (ResNet-20 GE-θ⁻), ready to train.
  m_backbone->setCurrentText(QStringLiteral("resnet20"));
  m_attention->setCurrentIndex(2);
  const QString saved = QSettings().value(QStringLiteral("train/config")).toString();
  if (!saved.isEmpty()) {
    try {
      setConfig(TrainConfig::from_json(saved.toStdString(), "the saved Train form"));
    } catch (const std::exception&) {
      // A form saved by another version: keep the defaults.
    }
  }
  updateButtons();
  updateComplexity();
}

TrainView::~TrainView() {
  if (m_control) m_control->cancel = true;
  delete m_job;  // waits: the trainer saves `last` and returns
  delete m_complexityJob;
}

TrainConfig TrainView::config() const {
  TrainConfig c;
  c.model.backbone = m_backbone->currentText().toStdString();
  c.model.attention = m_attention->currentIndex() == 0 ? AttentionKind::kNone
                      : m_attention->currentIndex() == 1 ? AttentionKind::kSE
                                                           : AttentionKind::kGE;
  c.model.variant = m_variant->currentIndex() == 0 ? GEVariant::kThetaMinus
                    : m_variant->currentIndex() == 1 ? GEVariant::kTheta
                                                       : GEVariant::kThetaPlus;
  c.model.extent = m_extent->currentIndex() == 0 ? kGlobalExtent : m_extent->currentText().toInt();
  c.model.pool = m_pool->currentIndex() == 0 ? PoolKind::kAvg : PoolKind::kMax;
  c.data = m_data->text().trimmed().toStdString();
  guess_input(c.model, c.data);
  c.steps = m_steps->value();
  c.epochs = c.steps ? 0 : m_epochs->value();
  c.batch = m_batch->value();
  c.lr = m_lr->value();
  c.schedule = m_schedule->currentText().toStdString();
  c.weight_decay = m_wd->value();
  c.seed = uint64_t(m_seed->value());
  c.device = m_device->currentText().toStdString();
  c.threads = m_threads->value();
  return c;
}

void TrainView::setConfig(const TrainConfig& c) {
  m_backbone->setCurrentText(QString::fromStdString(c.model.backbone));
  m_attention->setCurrentIndex(int(c.model.attention == AttentionKind::kNone ? 0 : c.model.attention == AttentionKind::kSE ? 1 : 2));
  m_variant->setCurrentIndex(c.model.variant == GEVariant::kThetaMinus ? 0 : c.model.variant == GEVariant::kTheta ? 1 : 2);
  m_extent->setCurrentText(QString::fromStdString(extent_to_string(c.model.extent)));
  m_pool->setCurrentIndex(c.model.pool == PoolKind::kAvg ? 0 : 1);
  m_data->setText(QString::fromStdString(c.data));
  m_epochs->setValue(int(c.epochs));
  m_steps->setValue(int(c.steps));
  m_batch->setValue(int(c.batch));
  m_lr->setValue(c.lr);
  m_schedule->setCurrentText(QString::fromStdString(c.schedule));
  m_wd->setValue(c.weight_decay);
  m_seed->setValue(int(c.seed));
  if (c.threads > 0) m_threads->setValue(c.threads);
  updateComplexity();
}

void TrainView::updateButtons() {
  const bool busy = isTraining();
  const bool ge = m_attention->currentIndex() == 2;
  for (QWidget* w : std::initializer_list<QWidget*>{m_start, m_pair, m_resume}) w->setEnabled(!busy);
  m_pair->setEnabled(!busy && ge);
  m_pause->setEnabled(busy);
  m_stop->setEnabled(busy);
  m_variant->setEnabled(ge);
  m_extent->setEnabled(ge);
  m_pool->setEnabled(ge && m_variant->currentIndex() == 0);
}

void TrainView::updateComplexity() {
  const ModelSpec spec = config().model;
  if (const auto problem = spec.problem()) {
    m_complexity->setText(tr("⚠ %1").arg(QString::fromStdString(*problem)));
    return;
  }
  m_complexity->setText(tr("Counting parameters…"));
  delete m_complexityJob;
  auto result = std::make_shared<QString>();
  auto* job = new Job(tr("count"), [spec, result](Job&) {
    auto net = build_network(spec);
    const auto c = measure_complexity(*net);
    *result = QObject::tr("%1 × %2 × %2 input: %3 M parameters, %4 GMACs")
                  .arg(spec.in_channels)
                  .arg(spec.input_size)
                  .arg(double(c.params) / 1e6, 0, 'f', 3)
                  .arg(double(c.macs) / 1e9, 0, 'f', 4);
  }, this);
  m_complexityJob = job;
  connect(job, &Job::finished, this, [this, job, result](bool ok, const QString& error) {
    m_complexity->setText(ok ? *result : tr("⚠ %1").arg(error));
    job->deleteLater();
  });
  job->start();
}

QString TrainView::newRunDirectory(const TrainConfig& c) const {
  QString name = QString::fromStdString(c.model.backbone);
  if (c.model.attention == AttentionKind::kSE) name += QStringLiteral("-se");
  if (c.model.attention == AttentionKind::kGE)
    name += QStringLiteral("-ge-") + QString::fromStdString(to_string(c.model.variant)) + QLatin1Char('-') +
            QString::fromStdString(extent_to_string(c.model.extent));
  if (c.model.attention == AttentionKind::kNone) name += QStringLiteral("-baseline");
  name += QDateTime::currentDateTime().toString(QStringLiteral("-yyyyMMdd-HHmmss"));
  QString dir = m_catalog->runsDirectory() + QLatin1Char('/') + name;
  for (int i = 2; QFileInfo::exists(dir); ++i) dir = m_catalog->runsDirectory() + QLatin1Char('/') + name + QLatin1Char('-') + QString::number(i);
  return dir;
}

bool TrainView::isTraining() const { return m_job && m_job->isRunning(); }

QString TrainView::progressText() const { return m_progressLabel->text(); }

void TrainView::setPaused(bool paused) {
  if (m_control) m_control->pause = paused;
  if (m_pause->isChecked() != paused) m_pause->setChecked(paused);
  m_pause->setText(paused ? tr("Continue") : tr("Pause"));
  if (isTraining()) m_progressLabel->setText(paused ? tr("Paused: %1").arg(m_progressLabel->text()) : m_progressLabel->text());
}

void TrainView::stop() {
  m_queue.clear();
  if (!m_control) return;
  m_control->pause = false;
  m_control->cancel = true;
  m_progressLabel->setText(tr("Stopping after this batch…"));
}

bool TrainView::start(const QString& dir) { return startConfig(config(), dir); }

bool TrainView::startConfig(const TrainConfig& c, const QString& dir) {
  if (isTraining()) {
    Q_EMIT message(tr("A run is training already; stop it first"));
    return false;
  }
  if (const auto problem = c.model.problem()) {
    Q_EMIT message(QString::fromStdString(*problem));
    return false;
  }
  QSettings().setValue(QStringLiteral("train/config"), QString::fromStdString(c.to_json()));
  launch(dir.isEmpty() ? newRunDirectory(c) : dir, c, false);
  return true;
}

void TrainView::startPair() {
  TrainConfig ge = config();
  TrainConfig baseline = ge;
  baseline.model.attention = AttentionKind::kNone;
  if (startConfig(baseline)) m_queue = {ge};
}

bool TrainView::resume(const QString& runDir) {
  const RunRecord* r = m_catalog->find(runDir);
  if (!r) {
    Q_EMIT message(tr("%1: not a run the browser knows").arg(runDir));
    return false;
  }
  if (r->shipped) {
    Q_EMIT message(tr("%1 is a shipped run and read-only").arg(r->name));
    return false;
  }
  if (isTraining()) {
    Q_EMIT message(tr("A run is training already; stop it first"));
    return false;
  }
  if (r->status == QLatin1String("running") && !r->stalled()) {
    Q_EMIT message(tr("%1 is being trained by another process (it wrote %2)")
                       .arg(r->name, QLocale().toString(r->updated, QLocale::ShortFormat)));
    return false;
  }
  setConfig(r->config);
  launch(r->path, r->config, true);
  return true;
}

void TrainView::launch(const QString& dir, const TrainConfig& c, bool resuming) {
  m_control = std::make_shared<TrainControl>();
  m_runDir = dir;
  const QString name = QFileInfo(dir).fileName();
  Series loss = make_series(name, tr("train loss"), run_color(0));
  Series val = make_series(name, tr("val top-1"), run_color(0));
  val.markBest = true;
  if (const RunRecord* r = resuming ? m_catalog->find(dir) : nullptr) {
    for (const auto& m : r->metrics) {
      if (m.split == "train") loss.x.push_back(double(m.step)), loss.y.push_back(m.loss);
      else val.x.push_back(m.epoch), val.y.push_back(100 * m.top1_error);
    }
  }
  m_loss->setSeries({loss});
  m_error->setSeries({val});
  m_error->setSmoothing(0);
  m_progress->setValue(0);
  m_progressLabel->setText(resuming ? tr("Resuming %1…").arg(name) : tr("Loading %1…").arg(QString::fromStdString(c.data)));

  auto control = m_control;
  const std::string runDir = dir.toStdString();
  auto* job = new Job(tr("training %1").arg(name), [this, c, runDir, resuming, control](Job& job) {
    if (c.threads > 0) torch::set_num_threads(c.threads);
    TrainCallbacks cb;
    cb.on_progress = [&job, this](const TrainProgress& p) { job.post([this, p] { onProgress(p); }); };
    cb.on_eval = [&job, this](const EvalReport& r) {
      job.post([this, r] { m_error->append(0, {r.epoch}, {100 * r.eval.top1_error}); });
    };
    cb.on_message = [&job, this](const std::string& m) {
      job.post([this, m] { Q_EMIT message(QString::fromStdString(m)); });
    };
    if (resuming) {
      gex::resume(runDir, std::nullopt, std::nullopt, cb, *control);
      return;
    }
    DataOptions options;
    options.seed = c.seed;
    options.warn = cb.on_message;
    if (c.data.rfind("folder:", 0) == 0) options.input_size = c.model.input_size;
    const Dataset data = load_dataset(c.data, options);
    TrainConfig config = c;
    config.model.num_classes = data.num_classes();
    config.model.in_channels = data.channels;
    config.model.input_size = data.height;
    config.validate();
    gex::train(runDir, config, cb, *control, &data);
  }, this);
  m_job = job;
  connect(job, &Job::finished, this, [this, job, dir, name](bool ok, const QString& error) {
    const bool cancelled = m_control && m_control->cancel;
    m_progressLabel->setText(!ok       ? tr("%1 failed: %2").arg(name, error)
                             : cancelled ? tr("%1 stopped; resume it from the run browser or with Resume").arg(name)
                                         : tr("%1 finished").arg(name));
    if (!ok) Q_EMIT message(error);
    m_pause->setChecked(false);
    job->deleteLater();
    m_catalog->rescan();
    Q_EMIT runFinished(dir, ok);
    updateButtons();
    if (ok && !cancelled && !m_queue.empty()) {
      const TrainConfig next = m_queue.front();
      m_queue.pop_front();
      startConfig(next);
    }
  });
  job->start();
  updateButtons();
  // The run folder appears once the trainer has written run.json.
  QTimer::singleShot(1500, m_catalog, &RunCatalog::rescan);
  Q_EMIT runStarted(dir);
}

void TrainView::onProgress(const TrainProgress& p) {
  m_progress->setValue(p.total_steps ? int(1000 * p.step / p.total_steps) : 0);
  m_progressLabel->setText(tr("%1epoch %2 · step %3/%4 · loss %5 · %6 images/s · ETA %7")
                               .arg(m_control && m_control->pause ? tr("Paused: ") : QString())
                               .arg(p.epoch, 0, 'f', 2)
                               .arg(p.step)
                               .arg(p.total_steps)
                               .arg(p.loss, 0, 'f', 4)
                               .arg(p.images_per_second, 0, 'f', 0)
                               .arg(duration(p.eta_seconds)));
  m_loss->append(0, {double(p.step)}, {p.loss});
}

}  // namespace gex::ui
