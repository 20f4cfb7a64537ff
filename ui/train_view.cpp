#include "train_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QThread>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "curve_plot.h"
#include "job.h"
#include "train_process.h"
#include "train/checkpoint.h"
#include "model_info.h"
#include "run_catalog.h"
#include "start_from_picker.h"
#include "study_dialog.h"
#include "train/trainer.h"

namespace gex::ui {

namespace {

QString duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) return QString::asprintf("%ldh%02ldm", s / 3600, (s / 60) % 60);
  if (s >= 60) return QString::asprintf("%ldm%02lds", s / 60, s % 60);
  return QString::asprintf("%lds", s);
}

// What the data set will give the model, for the parameter count the form shows; training takes
// the real values from the data (fit_to_data).
void guess_input(ModelSpec& spec, const std::string& data) {
  const bool colour = data.rfind("cifar", 0) == 0 || data.rfind("folder:", 0) == 0;
  spec.in_channels = colour ? 3 : 1;
  spec.input_size = is_imagenet_backbone(spec.backbone) && colour ? 224 : colour ? 32 : 28;
  spec.num_classes = data.rfind("cifar100", 0) == 0 ? 100 : 10;
}

// A combo box whose items carry their value: the text shown, the value in the item data.
template <typename T>
QComboBox* combo(QWidget* parent, const std::vector<std::pair<QString, T>>& items) {
  auto* c = new QComboBox(parent);
  for (const auto& [text, value] : items) c->addItem(text, QVariant::fromValue(static_cast<int>(value)));
  return c;
}

template <typename T>
T value_of(const QComboBox* c) {
  return static_cast<T>(c->currentData().toInt());
}

void select(QComboBox* c, int value) {
  const int i = c->findData(value);
  if (i >= 0) c->setCurrentIndex(i);
}

}  // namespace

TrainView::TrainView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_models(models) {
  auto* form = new QWidget(this);
  auto* formLayout = new QVBoxLayout(form);
  formLayout->addLayout(buildForm());
  formLayout->addLayout(buildButtons());
  formLayout->addStretch(1);
  // The form scrolls when the window is short (a laptop screen) instead of forcing its height.
  auto* scroll = new QScrollArea(this);
  scroll->setWidget(form);
  scroll->setWidgetResizable(true);
  scroll->setFrameShape(QFrame::NoFrame);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setMinimumWidth(260);
  scroll->setMaximumWidth(380);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(scroll);
  layout->addWidget(buildProgressAndPlots(), 1);
  connectForm();
  restoreForm();
  updateButtons();
  updateComplexity();
}

QFormLayout* TrainView::buildForm() {
  std::vector<std::pair<QString, int>> backbones;
  for (size_t i = 0; i < gex::backbones().size(); ++i) backbones.emplace_back(QString::fromLatin1(gex::backbones()[i].name), int(i));
  m_backbone = combo(this, backbones);
  m_attention = combo<AttentionKind>(this, {{tr("none (baseline)"), AttentionKind::kNone},
                                           {tr("SE"), AttentionKind::kSE},
                                           {tr("GE"), AttentionKind::kGE}});
  m_variant = combo<GEVariant>(this, {{tr("GE-θ⁻ (parameter-free)"), GEVariant::kThetaMinus},
                                      {tr("GE-θ (depthwise gather)"), GEVariant::kTheta},
                                      {tr("GE-θ⁺ (gather + MLP)"), GEVariant::kThetaPlus}});
  m_extent = combo<int>(this, {{tr("global"), kGlobalExtent}, {QStringLiteral("2"), 2}, {QStringLiteral("4"), 4},
                               {QStringLiteral("8"), 8}});
  m_pool = combo<PoolKind>(this, {{tr("average"), PoolKind::kAvg}, {tr("max"), PoolKind::kMax}});
  m_strideOn = combo<StrideOn>(this, {{tr("first 1×1 (the paper's)"), StrideOn::k1x1},
                                      {tr("3×3 (torchvision's)"), StrideOn::k3x3}});
  m_startFrom = new StartFromPicker(m_catalog, this);
  m_freeze = new QCheckBox(tr("Freeze the backbone"), this);
  m_freeze->setObjectName(QStringLiteral("freezeBackbone"));
  m_schedule = new QComboBox(this);
  m_schedule->addItems({QStringLiteral("multistep"), QStringLiteral("cosine"), QStringLiteral("constant")});
  m_device = new QComboBox(this);
  m_device->addItems({QStringLiteral("auto"), QStringLiteral("cpu")});
  if (torch::cuda::is_available()) m_device->addItem(QStringLiteral("cuda"));
  m_data = new QLineEdit(QStringLiteral("fashion-mnist"), this);
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
  m_processes = spin(1, std::max(1, QThread::idealThreadCount()), 1);
  m_processes->setObjectName(QStringLiteral("processes"));
  m_syncBn = new QCheckBox(tr("Synchronise BatchNorm across processes"), this);
  m_syncBn->setObjectName(QStringLiteral("syncBn"));
  m_probes = new QCheckBox(tr("Record probes (every epoch)"), this);
  m_probes->setObjectName(QStringLiteral("probes"));
  m_probes->setChecked(true);
  m_probes->setToolTip(tr("Gates, class selectivity and accuracy of the network at the end of every epoch, for the "
                          "timelines of Selectivity, Pruning, Compare and the Gates filmstrip (about 1 s each)"));
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

  m_backbone->setToolTip(tr("The network (GE-SPEC §3): ResNet-20…110 for 32×32 images, ResNet-18…152 and ShuffleNet "
                            "for ImageNet-sized ones, pre-activation ResNet-164 and WRN-16-8"));
  m_attention->setToolTip(tr("The module on every residual branch: none, Squeeze-and-Excitation, or Gather-Excite"));
  m_variant->setToolTip(tr("GE-θ⁻: the gate is σ of the pooled map (no parameters); GE-θ: a learned depthwise "
                           "gather; GE-θ⁺: the gather followed by a 1×1-conv MLP"));
  m_extent->setToolTip(tr("The extent ratio e: each gate cell pools a neighbourhood e times the map's stride; "
                          "global pools the whole map (one gate value per channel)"));
  m_pool->setToolTip(tr("How GE-θ⁻ gathers: average or max pooling"));
  m_strideOn->setToolTip(tr("ResNet-50/101/152: which convolution of a stage's first block strides — the first "
                            "1×1 as in the paper, or the 3×3 as torchvision and timm build them (weights imported "
                            "from there need it)"));
  m_freeze->setToolTip(tr("Train only the attention modules and the head: the backbone's weights and BatchNorm "
                          "statistics stay as they are in the checkpoint"));
  m_data->setToolTip(tr("fashion-mnist, mnist:DIR, idx:DIR, cifar10:DIR, cifar100:DIR, folder:DIR (one subfolder "
                        "per class, or train/ and val/ of those as ImageNet; folders larger than memory are "
                        "streamed from disk, photographs of 64 px and more get ImageNet's random-resized-crop) "
                        "or synthetic"));
  m_epochs->setToolTip(tr("Length of the run in passes over the training set"));
  m_steps->setToolTip(tr("Length of the run in steps (batches) instead of epochs; 0: use epochs"));
  m_batch->setToolTip(tr("Images per training step"));
  m_lr->setToolTip(tr("Learning rate at the start (SGD with momentum 0.9)"));
  m_schedule->setToolTip(tr("multistep: ×0.1 at 50 % and 75 % of the run (the paper's); cosine: down to 0; "
                            "constant"));
  m_wd->setToolTip(tr("L2 weight decay"));
  m_seed->setToolTip(tr("Seed of the initialisation, the data order and the augmentation: the same seed, the same run"));
  m_device->setToolTip(tr("Where to train: auto picks CUDA when present"));
  m_threads->setToolTip(tr("CPU threads the training uses (recorded in the run; a resume uses them again); with "
                           "several processes, shared between them"));
  m_processes->setToolTip(tr("Data-parallel worker processes (gex train --nproc): each trains on its share of every "
                             "batch, gradients are averaged over them; the batch above is the global one and must "
                             "split evenly. A data-parallel run cannot pause: Stop saves it, Resume continues it "
                             "with any number of processes"));
  m_syncBn->setToolTip(tr("BatchNorm statistics over the whole global batch, as one process would compute them "
                          "(SyncBatchNorm); otherwise each process normalises with its own share's, as DDP does"));

  auto* form = m_form = new QFormLayout;
  form->addRow(tr("Start from"), m_startFrom);
  form->addRow(QString(), m_freeze);
  form->addRow(tr("Backbone"), m_backbone);
  form->addRow(tr("Attention"), m_attention);
  form->addRow(tr("GE variant"), m_variant);
  form->addRow(tr("GE extent"), m_extent);
  form->addRow(tr("θ⁻ pooling"), m_pool);
  form->addRow(tr("Stride on"), m_strideOn);
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(tr("Choose a CIFAR, IDX or image folder"));
  browse->setAccessibleName(tr("Choose a data folder"));
  browse->setObjectName(QStringLiteral("browseData"));
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
  form->addRow(tr("Processes"), m_processes);
  form->addRow(QString(), m_syncBn);
  form->addRow(QString(), m_probes);
  form->addRow(m_complexity);
  for (QComboBox* c : std::initializer_list<QComboBox*>{m_startFrom, m_backbone, m_attention, m_variant, m_extent,
                                                        m_pool, m_strideOn, m_schedule, m_device})
    c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon), c->setMinimumContentsLength(8);
  return form;
}

QGridLayout* TrainView::buildButtons() {
  m_start = new QPushButton(tr("Start"), this);
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
  m_stop->setToolTip(tr("Stop after this batch and keep a resumable checkpoint"));
  m_resume = new QPushButton(tr("Resume selected run"), this);
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
  auto* plots = new QSplitter(Qt::Horizontal, box);
  auto* lossPlot = new QCustomPlot(plots);
  auto* errorPlot = new QCustomPlot(plots);
  for (auto* p : {lossPlot, errorPlot}) p->setMinimumSize(200, 160);
  plots->addWidget(lossPlot);
  plots->addWidget(errorPlot);
  m_loss = new CurvePlot(lossPlot, tr("step"), tr("training loss"));
  m_loss->setTitle(tr("Training loss (live)"));
  m_loss->setIdleHint(tr("Start a run: its loss appears here as it trains"));
  m_error = new CurvePlot(errorPlot, tr("epoch"), tr("top-1 error (%)"));
  m_error->setTitle(tr("Top-1 error (live; ● best)"));
  m_error->setIdleHint(tr("The validation error appears after each epoch"));
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

void TrainView::connectForm() {
  m_progressTimer.setSingleShot(true);
  m_progressTimer.setInterval(500);
  connect(&m_progressTimer, &QTimer::timeout, this, &TrainView::showProgress);
  auto* debounce = new QTimer(this);
  debounce->setSingleShot(true);
  debounce->setInterval(150);
  connect(debounce, &QTimer::timeout, this, &TrainView::updateComplexity);
  for (auto* c : {m_backbone, m_attention, m_variant, m_extent, m_pool, m_strideOn})
    connect(c, &QComboBox::currentIndexChanged, debounce, qOverload<>(&QTimer::start));
  connect(m_backbone, &QComboBox::currentIndexChanged, this, &TrainView::updateButtons);
  connect(m_startFrom, &StartFromPicker::picked, this, &TrainView::applyStartFrom);
  connect(m_data, &QLineEdit::editingFinished, debounce, qOverload<>(&QTimer::start));
  connect(m_models, &ModelInfoCache::ready, this, &TrainView::updateComplexity);
  connect(m_attention, &QComboBox::currentIndexChanged, this, &TrainView::updateButtons);
  connect(m_variant, &QComboBox::currentIndexChanged, this, &TrainView::updateButtons);
  connect(m_processes, &QSpinBox::valueChanged, this, &TrainView::updateButtons);
  connect(findChild<QToolButton*>(QStringLiteral("browseData")), &QToolButton::clicked, this, [this, debounce] {
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
  connect(m_study, &QPushButton::clicked, this, &TrainView::chooseStudy);
  connect(m_pause, &QPushButton::toggled, this, &TrainView::setPaused);
  connect(m_stop, &QPushButton::clicked, this, &TrainView::stop);
  connect(m_resume, &QPushButton::clicked, this, [this] {
    if (m_selectedRun.isEmpty()) Q_EMIT message(tr("Select a stopped run in the run browser to resume it"), MessageKind::kInformation);
    else resume(m_selectedRun);
  });
}

// The last form started, else the shipped GE run's settings (ResNet-20 GE-θ⁻), ready to train.
void TrainView::restoreForm() {
  select(m_backbone, int(std::find_if(gex::backbones().begin(), gex::backbones().end(),
                                      [](const Backbone& b) { return std::string(b.name) == "resnet20"; }) -
                         gex::backbones().begin()));
  select(m_attention, int(AttentionKind::kGE));
  const QVariant saved = QSettings().value(QStringLiteral("train/config"));
  if (!saved.isValid()) return;
  try {
    setConfig(TrainConfig::from_json(saved.toString().toStdString(), "the saved Train form"));
  } catch (const std::exception& e) {
    m_restoreProblem = tr("The Train form saved last time could not be restored (%1); it shows the defaults.")
                           .arg(QString::fromStdString(e.what()));
  }
}

TrainView::~TrainView() {
  delete m_process;  // stops the training and waits: gex saves `last` and exits
}

TrainConfig TrainView::config() const {
  TrainConfig c;
  c.model.backbone = gex::backbones()[size_t(m_backbone->currentData().toInt())].name;
  c.model.attention = value_of<AttentionKind>(m_attention);
  c.model.variant = value_of<GEVariant>(m_variant);
  c.model.extent = value_of<int>(m_extent);
  c.model.pool = value_of<PoolKind>(m_pool);
  if (is_bottleneck_backbone(c.model.backbone)) c.model.stride_on = value_of<StrideOn>(m_strideOn);
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
  c.sync_bn = m_processes->value() > 1 && m_syncBn->isChecked();
  c.probes = m_probes->isChecked();
  c.init_from = m_startFrom->path().toStdString();
  c.freeze_backbone = !c.init_from.empty() && m_freeze->isChecked();
  return c;
}

// A checkpoint to start from brings its backbone and stride.
void TrainView::applyStartFrom() {
  const QString path = m_startFrom->path();
  if (!path.isEmpty()) {
    try {
      const ModelSpec spec = read_checkpoint_info(path.toStdString()).model;
      const auto& table = gex::backbones();
      for (size_t i = 0; i < table.size(); ++i)
        if (spec.backbone == table[i].name) select(m_backbone, int(i));
      select(m_strideOn, int(spec.stride_on));
    } catch (const std::exception& e) {
      Q_EMIT message(QString::fromStdString(e.what()));
      m_startFrom->setCurrentIndex(0);
    }
  }
  updateButtons();
  updateComplexity();
}

void TrainView::setConfig(const TrainConfig& c) {
  const auto& table = gex::backbones();
  for (size_t i = 0; i < table.size(); ++i)
    if (c.model.backbone == table[i].name) select(m_backbone, int(i));
  select(m_attention, int(c.model.attention));
  select(m_variant, int(c.model.variant));
  select(m_extent, c.model.extent);
  select(m_pool, int(c.model.pool));
  select(m_strideOn, int(c.model.stride_on));
  m_data->setText(QString::fromStdString(c.data));
  m_epochs->setValue(int(c.epochs));
  m_steps->setValue(int(c.steps));
  m_batch->setValue(int(c.batch));
  m_lr->setValue(c.lr);
  m_schedule->setCurrentText(QString::fromStdString(c.schedule));
  m_wd->setValue(c.weight_decay);
  m_seed->setValue(int(c.seed));
  if (c.threads > 0) m_threads->setValue(c.threads);
  m_startFrom->setPath(QString::fromStdString(c.init_from));
  m_freeze->setChecked(c.freeze_backbone);
  m_syncBn->setChecked(c.sync_bn);
  m_probes->setChecked(c.probes);
  updateButtons();
  updateComplexity();
}

void TrainView::updateButtons() {
  const bool busy = isTraining();
  const bool ge = value_of<AttentionKind>(m_attention) == AttentionKind::kGE;
  for (QWidget* w : std::initializer_list<QWidget*>{m_start, m_study, m_resume}) w->setEnabled(!busy);
  m_pause->setEnabled(busy && m_runningProcesses == 1);
  m_syncBn->setEnabled(m_processes->value() > 1);
  m_stop->setEnabled(busy);
  m_variant->setEnabled(ge);
  m_extent->setEnabled(ge);
  m_pool->setEnabled(ge && value_of<GEVariant>(m_variant) == GEVariant::kThetaMinus);
  // Starting from a checkpoint fixes the backbone and its stride: they are the checkpoint's.
  const bool scratch = m_startFrom->path().isEmpty();
  m_backbone->setEnabled(scratch);
  // Rows that do not apply are hidden, so the form fits a laptop screen without scrolling.
  const bool bottleneck = is_bottleneck_backbone(gex::backbones()[size_t(m_backbone->currentData().toInt())].name);
  m_form->setRowVisible(m_strideOn, bottleneck);
  m_strideOn->setEnabled(scratch && bottleneck);
  m_form->setRowVisible(m_freeze, !scratch);
  m_freeze->setEnabled(!scratch);
}

void TrainView::updateComplexity() {
  const ModelSpec spec = config().model;
  if (const auto problem = spec.problem()) {
    m_complexity->setText(tr("⚠ %1").arg(QString::fromStdString(*problem)));
    return;
  }
  const ModelInfo* info = m_models->get(spec);
  if (!info) m_complexity->setText(tr("Counting parameters…"));
  else if (!info->error.isEmpty()) m_complexity->setText(tr("⚠ %1").arg(info->error));
  else
    m_complexity->setText(tr("%1 × %2 × %2 input: %3 M parameters, %4 GMACs")
                              .arg(spec.in_channels)
                              .arg(spec.input_size)
                              .arg(double(info->params) / 1e6, 0, 'f', 3)
                              .arg(double(info->macs) / 1e9, 0, 'f', 4));
}

QString TrainView::complexityText() const { return m_complexity->text(); }

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
  QSettings().setValue(QStringLiteral("train/config"), QString::fromStdString(c.to_json()));
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
  QSettings().setValue(QStringLiteral("train/config"), QString::fromStdString(c.to_json()));
  m_studyDir = dir;
  m_progressLabel->setText(tr("Starting study %1…").arg(QFileInfo(dir).fileName()));
  startProcess(study_arguments(c, variants, seeds, dir, m_processes->value()), QString());
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
  setConfig(r->config);
  launch(r->path, r->config, true);
  return true;
}

void TrainView::launch(const QString& dir, const TrainConfig& c, bool resuming) {
  m_studyDir.clear();
  followRun(dir, resuming);
  m_progressLabel->setText(resuming ? tr("Resuming %1…").arg(QFileInfo(dir).fileName())
                                    : tr("Loading %1…").arg(QString::fromStdString(c.data)));
  startProcess(resuming ? resume_arguments(dir, m_processes->value()) : train_arguments(c, dir, m_processes->value()), dir);
}

void TrainView::followRun(const QString& dir, bool resuming) {
  m_runDir = dir;
  const QString name = m_studyDir.isEmpty() ? QFileInfo(dir).fileName() : dir.mid(m_studyDir.size() + 1);
  const QColor colour = run_color(m_catalog->colourOf(dir));
  Series loss = make_series(name, tr("train loss"), colour);
  Series val = make_series(name, tr("val top-1"), colour);
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
  m_latest.reset();
  m_lossSteps.clear();
  m_losses.clear();
}

// `dir`: the run, or empty for a study, whose runs the process announces as it reaches them.
void TrainView::startProcess(const QStringList& arguments, const QString& dir) {
  auto* process = new TrainProcess(this);
  m_process = process;
  connect(process, &TrainProcess::progress, this, &TrainView::onProgress);
  connect(process, &TrainProcess::evaluated, this,
          [this](const EvalReport& r) { m_error->append(0, {r.epoch}, {100 * r.eval.top1_error}); });
  connect(process, &TrainProcess::message, this,
          [this](const QString& m) { Q_EMIT message(m, MessageKind::kWarning); });
  connect(process, &TrainProcess::runStarted, this, [this](const QString& run) {
    followRun(run, QFileInfo::exists(run + QStringLiteral("/run.json")));
    m_progressLabel->setText(tr("Study %1: %2").arg(QFileInfo(m_studyDir).fileName(), run.mid(m_studyDir.size() + 1)));
    QTimer::singleShot(1500, m_catalog, &RunCatalog::rescan);
    Q_EMIT runStarted(run);
  });
  connect(process, &TrainProcess::finished, this, [this, process](JobOutcome outcome, const QString& error) {
    process->deleteLater();
    onFinished(m_studyDir.isEmpty() ? m_runDir : m_studyDir, int(outcome), error);
  });
  m_runningProcesses = m_processes->value();
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
  m_latest = p;
  m_lossSteps.push_back(double(p.step));
  m_losses.push_back(p.loss);
  if (!m_progressTimer.isActive()) m_progressTimer.start();
}

void TrainView::showProgress() {
  if (!m_latest) return;
  const TrainProgress p = *m_latest;
  m_latest.reset();
  const bool paused = m_process && m_process->isPaused();
  m_progress->setValue(p.total_steps ? int(1000 * p.step / p.total_steps) : 0);
  m_progressLabel->setText(tr("%1epoch %2 · step %3/%4 · loss %5 · %6 images/s · ETA %7")
                               .arg(paused ? tr("Paused: ") : QString())
                               .arg(p.epoch, 0, 'f', 2)
                               .arg(p.step)
                               .arg(p.total_steps)
                               .arg(p.loss, 0, 'f', 4)
                               .arg(p.images_per_second, 0, 'f', 0)
                               .arg(duration(p.eta_seconds)));
  m_loss->append(0, m_lossSteps, m_losses);
  m_lossSteps.clear();
  m_losses.clear();
  Q_EMIT progressChanged(p.total_steps ? double(p.step) / double(p.total_steps) : 0, QFileInfo(m_runDir).fileName());
}

}  // namespace gex::ui
