#include "train_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QSettings>
#include <QSpinBox>
#include <QThread>
#include <QTimer>
#include <QToolButton>

#include <algorithm>

#include "model_info.h"
#include "start_from_picker.h"
#include "train/checkpoint.h"
#include "train/device.h"

namespace gex::ui {

namespace {

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

TrainForm::TrainForm(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_models(models) {
  build();
  setToolTips();
  connectForm();
  restore();
  updateRows();
  updateComplexity();
}

void TrainForm::build() {
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
  m_device->setObjectName(QStringLiteral("device"));
  m_device->addItem(QStringLiteral("auto"), QStringLiteral("auto"));
  m_device->addItem(QStringLiteral("cpu"), QStringLiteral("cpu"));
  for (const Gpu& g : gpus())  // "cuda:0 — NVIDIA H200, 140 GB"
    m_device->addItem(QStringLiteral("cuda:%1 — %2, %3 GB")
                          .arg(g.index)
                          .arg(QString::fromStdString(g.name))
                          .arg(double(g.memory) / 1e9, 0, 'f', 0),
                      QStringLiteral("cuda:%1").arg(g.index));
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

  auto* form = m_form = new QFormLayout(this);
  form->setContentsMargins(0, 0, 0, 0);
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
  for (QComboBox* c : std::initializer_list<QComboBox*>{m_startFrom, m_backbone, m_attention, m_variant, m_extent,
                                                        m_pool, m_strideOn, m_schedule, m_device})
    c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon), c->setMinimumContentsLength(8);
}

void TrainForm::setToolTips() {
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
  m_device->setToolTip(tr("Where to train: auto picks the first GPU when there is one; with several processes, "
                          "each takes its own GPU"));
  m_threads->setToolTip(tr("CPU threads the training uses (recorded in the run; a resume uses them again); with "
                           "several processes, shared between them"));
  m_processes->setToolTip(tr("Data-parallel worker processes (gex train --nproc): each trains on its share of every "
                             "batch, gradients are averaged over them; the batch above is the global one and must "
                             "split evenly. Pause holds every process; Stop saves the run, Resume continues it "
                             "with any number of processes"));
  m_syncBn->setToolTip(tr("BatchNorm statistics over the whole global batch, as one process would compute them "
                          "(SyncBatchNorm); otherwise each process normalises with its own share's, as DDP does"));
}

void TrainForm::connectForm() {
  m_debounce = new QTimer(this);
  m_debounce->setSingleShot(true);
  m_debounce->setInterval(150);
  connect(m_debounce, &QTimer::timeout, this, &TrainForm::updateComplexity);
  for (auto* c : {m_backbone, m_attention, m_variant, m_extent, m_pool, m_strideOn})
    connect(c, &QComboBox::currentIndexChanged, m_debounce, qOverload<>(&QTimer::start));
  for (auto* c : {m_backbone, m_attention, m_variant})
    connect(c, &QComboBox::currentIndexChanged, this, &TrainForm::updateRows);
  connect(m_processes, &QSpinBox::valueChanged, this, &TrainForm::updateRows);
  connect(m_device, &QComboBox::currentIndexChanged, this, &TrainForm::updateRows);
  connect(m_startFrom, &StartFromPicker::picked, this, &TrainForm::applyStartFrom);
  connect(m_data, &QLineEdit::editingFinished, m_debounce, qOverload<>(&QTimer::start));
  connect(m_models, &ModelInfoCache::ready, this, &TrainForm::updateComplexity);
  connect(findChild<QToolButton*>(QStringLiteral("browseData")), &QToolButton::clicked, this,
          &TrainForm::chooseDataFolder);
}

QString data_for_folder(const QString& dir) {
  const QDir d(dir);
  // (CIFAR's python version too, data_batch_1 or train as files: the engine says what to do with it.)
  const auto file = [&](const char* name) { return QFileInfo(d.filePath(QLatin1String(name))).isFile(); };
  QString kind = QStringLiteral("folder");
  if (file("data_batch_1.bin") || file("data_batch_1")) kind = QStringLiteral("cifar10");
  else if (file("train.bin") || file("train")) kind = QStringLiteral("cifar100");
  else if (!d.entryList({QStringLiteral("*-idx3-ubyte*"), QStringLiteral("*.idx3-ubyte*")}).isEmpty()) kind = QStringLiteral("idx");
  return kind + QLatin1Char(':') + dir;
}

void TrainForm::chooseDataFolder() {
  QSettings settings;
  const QString dir = QFileDialog::getExistingDirectory(this, tr("A CIFAR, IDX or image folder"),
                                                        settings.value(QStringLiteral("dirs/data")).toString());
  if (dir.isEmpty()) return;
  settings.setValue(QStringLiteral("dirs/data"), dir);
  m_data->setText(data_for_folder(dir));
  m_debounce->start();
}

// The last form started, else the shipped GE run's settings (ResNet-20 GE-θ⁻), ready to train.
void TrainForm::restore() {
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

void TrainForm::remember(const TrainConfig& c) {
  QSettings().setValue(QStringLiteral("train/config"), QString::fromStdString(c.to_json()));
}

int TrainForm::processes() const { return m_processes->value(); }

TrainConfig TrainForm::config() const {
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
  c.device = m_device->currentData().toString().toStdString();
  c.threads = m_threads->value();
  c.sync_bn = m_processes->value() > 1 && m_syncBn->isChecked();
  c.probes = m_probes->isChecked();
  c.init_from = m_startFrom->path().toStdString();
  c.freeze_backbone = !c.init_from.empty() && m_freeze->isChecked();
  return c;
}

// A checkpoint to start from brings its backbone and stride, and its attention modules where it
// has them (a baseline's leaves the attention chosen: adding GE to a pretrained network).
void TrainForm::applyStartFrom() {
  const QString path = m_startFrom->path();
  if (!path.isEmpty()) {
    try {
      const ModelSpec spec = read_checkpoint_info(path.toStdString()).model;
      const auto& table = gex::backbones();
      for (size_t i = 0; i < table.size(); ++i)
        if (spec.backbone == table[i].name) select(m_backbone, int(i));
      select(m_strideOn, int(spec.stride_on));
      if (spec.attention != AttentionKind::kNone) {
        select(m_attention, int(spec.attention));
        select(m_variant, int(spec.variant));
        select(m_extent, spec.extent);
        select(m_pool, int(spec.pool));
      }
    } catch (const std::exception& e) {
      Q_EMIT message(QString::fromStdString(e.what()));
      m_startFrom->setCurrentIndex(0);
    }
  }
  updateRows();
  updateComplexity();
}

void TrainForm::setConfig(const TrainConfig& c) {
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
  if (const int k = m_device->findData(QString::fromStdString(c.device)); k >= 0) m_device->setCurrentIndex(k);
  if (c.threads > 0) m_threads->setValue(c.threads);
  m_startFrom->setPath(QString::fromStdString(c.init_from));
  m_freeze->setChecked(c.freeze_backbone);
  m_syncBn->setChecked(c.sync_bn);
  m_probes->setChecked(c.probes);
  updateRows();
  updateComplexity();
}

void TrainForm::updateRows() {
  const bool ge = value_of<AttentionKind>(m_attention) == AttentionKind::kGE;
  // On GPUs, one process per GPU (local rank r trains on GPU r); on the CPU, up to one per core.
  const int gpu_count = m_device->count() - 2;  // the entries after auto and cpu
  const bool on_gpus = gpu_count > 0 && m_device->currentData().toString() != QStringLiteral("cpu");
  m_processes->setMaximum(on_gpus ? gpu_count : std::max(1, QThread::idealThreadCount()));
  m_syncBn->setEnabled(m_processes->value() > 1);
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

void TrainForm::updateComplexity() {
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

QString TrainForm::complexityText() const { return m_complexity->text(); }

}  // namespace gex::ui
