#include "gates_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QDir>
#include <QEvent>
#include <QScreen>
#include <QWindow>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>

#include <array>
#include <map>

#include "analysis/gate_maps.h"
#include "eliding_combo_box.h"
#include "gate_filmstrip.h"
#include "gate_result.h"
#include "job.h"
#include "job_bar.h"
#include "run_catalog.h"
#include "train/checkpoint.h"

namespace gex::ui {

struct GateModels {
  std::map<std::string, std::shared_ptr<Checkpoint>> loaded;
  Checkpoint& get(const std::string& path) {
    auto& c = loaded[path];
    if (!c) c = std::make_shared<Checkpoint>(load_checkpoint(path));
    return *c;
  }
};

namespace {

// The panels' side: as large as the view's room allows (a laptop's 1024 px or a 4K monitor), at
// least kMinSide (narrower, the panels scroll), at most kMaxSide.
constexpr int kMinSide = 128;
constexpr int kMaxSide = 512;
// Below the panels: the captions above them, the top-5 lists and the first row of channel
// thumbnails, kept in view where the height allows.
constexpr int kBesidePanels = 300;

}  // namespace


GatesView::GatesView(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent),
      m_catalog(catalog),
      m_jobs(new JobBar({}, 0, this)),
      m_models(std::make_shared<GateModels>()) {
  auto* controls = new QScrollArea(this);
  controls->setWidget(buildControls());
  controls->setWidgetResizable(true);
  controls->setFrameShape(QFrame::NoFrame);
  controls->setMinimumWidth(220);
  controls->setMaximumWidth(340);
  controls->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  m_panelArea = new QScrollArea(this);
  m_panelArea->setObjectName(QStringLiteral("panels"));
  m_panelArea->setWidget(buildPanels());
  m_panelArea->setWidgetResizable(true);
  m_panelArea->setFrameShape(QFrame::NoFrame);
  m_panelArea->installEventFilter(this);  // its size sets the panels'
  auto* right = new QVBoxLayout;
  right->addWidget(m_jobs);
  right->addWidget(m_panelArea, 1);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(controls);
  layout->addLayout(right, 1);

  m_colormap->setCurrentText(QSettings().value(QStringLiteral("gates/colormap"), QStringLiteral("viridis")).toString());
  for (auto* c : {m_modelA, m_modelB}) connect(c, &QComboBox::currentIndexChanged, this, &GatesView::compute);
  connect(m_images, &QListWidget::currentRowChanged, this, &GatesView::compute);
  for (auto* c : {m_layer, m_colormap, m_scope, m_upsampling})
    connect(c, &QComboBox::currentIndexChanged, this, &GatesView::redraw);
  connect(m_channel, &QSpinBox::valueChanged, this, &GatesView::redraw);
  connect(m_opacity, &QSlider::valueChanged, this, &GatesView::redraw);
  connect(m_difference, &QCheckBox::toggled, this, &GatesView::redraw);
  connect(m_channels, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* item) { m_channel->setValue(item->data(Qt::UserRole).toInt()); });
  connect(m_catalog, &RunCatalog::runsChanged, this, &GatesView::refreshModels);
  refreshModels();
}

QWidget* GatesView::buildControls() {
  auto* box = new QWidget(this);
  m_modelA = new ElidingComboBox(box);
  m_modelB = new ElidingComboBox(box);
  m_modelA->setObjectName(QStringLiteral("modelA"));
  m_modelB->setObjectName(QStringLiteral("modelB"));
  m_layer = new QComboBox(box);
  m_colormap = new QComboBox(box);
  m_colormap->addItems(colormap_names());
  m_scope = new QComboBox(box);
  m_scope->addItems({tr("fixed [0, 1]"), tr("per map (min–max)")});
  m_upsampling = new QComboBox(box);
  m_upsampling->setObjectName(QStringLiteral("upsampling"));
  m_upsampling->addItems({tr("exact cells (nearest)"), tr("smooth (bilinear)")});
  m_channel = new QSpinBox(box);
  m_channel->setRange(-1, 4095);
  m_channel->setSpecialValueText(tr("channel mean"));
  m_channel->setValue(-1);
  m_opacity = new QSlider(Qt::Horizontal, box);
  m_opacity->setRange(0, 100);
  bool ok = false;
  const int opacity = QSettings().value(QStringLiteral("gates/opacity"), 60).toInt(&ok);
  m_opacity->setValue(ok ? opacity : 60);
  m_difference = new QCheckBox(tr("Show A − B"), box);
  m_images = new QListWidget(box);
  m_images->setMinimumHeight(80);
  auto* open = new QPushButton(tr("Open images…"), box);
  auto* openModel = new QPushButton(tr("Open checkpoint…"), box);
  m_modelA->setToolTip(tr("The model whose gates are shown: any run with a checkpoint, or one opened"));
  m_modelB->setToolTip(tr("A second model beside it; its layer follows A's by relative depth"));
  m_layer->setToolTip(tr("The attention module (one per residual block), by depth"));
  m_channel->setToolTip(tr("One channel of the gate, or the mean over the channels"));
  m_colormap->setToolTip(tr("How gate values map to colours"));
  m_opacity->setToolTip(tr("How strongly the gate map covers the image"));
  m_opacity->setAccessibleName(tr("Opacity"));
  m_scope->setToolTip(tr("Fixed: 0 and 1 (the gate's range) at the ends of the colour bar; per map: each map's own "
                         "minimum and maximum, with its own bar"));
  m_upsampling->setToolTip(tr("Exact: each gate cell as a block, as the network applies it; smooth: interpolated "
                              "between cell centres, easier on the eye for coarse gates on a photo (display only)"));
  m_difference->setToolTip(tr("The gate of A minus the gate of B, blue below zero and red above, on a symmetric scale"));
  m_images->setToolTip(tr("Images to inspect; open more, or drop files on the window"));
  for (auto* c : {m_modelA, m_modelB, m_layer, m_colormap, m_scope, m_upsampling}) {
    c->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    c->setMinimumContentsLength(10);
  }
  auto* form = new QFormLayout;
  form->addRow(tr("Model A"), m_modelA);
  form->addRow(tr("Model B"), m_modelB);
  form->addRow(openModel);
  form->addRow(tr("Layer"), m_layer);
  form->addRow(tr("Channel"), m_channel);
  form->addRow(tr("Colour map"), m_colormap);
  form->addRow(tr("Opacity"), m_opacity);
  form->addRow(tr("Scale"), m_scope);
  form->addRow(tr("Cells"), m_upsampling);
  form->addRow(m_difference);
  auto* column = new QVBoxLayout(box);
  column->setContentsMargins(0, 0, 0, 0);
  column->addLayout(form);
  column->addWidget(new QLabel(tr("Images (open, or drop files on the window)"), box));
  column->addWidget(m_images, 1);
  column->addWidget(open);
  connect(open, &QPushButton::clicked, this, [this] {
    QSettings settings;
    const QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Images"), settings.value(QStringLiteral("dirs/images")).toString(),
        tr("Images (*.png *.jpg *.jpeg *.bmp *.tif *.tiff *.webp *.pgm *.ppm);;All files (*)"));
    if (files.isEmpty()) return;
    settings.setValue(QStringLiteral("dirs/images"), QFileInfo(files.front()).absolutePath());
    addImages(files);
  });
  connect(openModel, &QPushButton::clicked, this, [this] {
    const QString file = QFileDialog::getOpenFileName(this, tr("Checkpoint"), {}, tr("Checkpoints (*.safetensors)"));
    if (!file.isEmpty()) setModel(file, 0);
  });
  return box;
}

QWidget* GatesView::buildPanels() {
  auto* box = new QWidget(this);
  auto* grid = new QGridLayout(box);
  m_input = new QLabel(box);
  m_input->setAlignment(Qt::AlignCenter);
  m_input->setWordWrap(true);
  grid->addWidget(new QLabel(tr("<b>Input</b> (as the model sees it)"), box), 0, 0);
  grid->addWidget(m_input, 1, 0);
  for (int i = 0; i < 3; ++i) {
    m_panels[i] = new QLabel(box);
    m_panels[i]->setObjectName(QStringLiteral("panel%1").arg(i));
    m_panels[i]->setAlignment(Qt::AlignCenter);
    m_captions[i] = new QLabel(box);
    m_captions[i]->setWordWrap(true);
    m_bars[i] = new ColorBar(box);
    auto* cell = new QHBoxLayout;
    cell->setSpacing(2);
    cell->addWidget(m_panels[i]);
    cell->addWidget(m_bars[i]);
    grid->addWidget(m_captions[i], 0, i + 1);
    grid->addLayout(cell, 1, i + 1);
  }
  for (int i = 0; i < 2; ++i) {
    m_top5[i] = new QLabel(box);
    m_top5[i]->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    grid->addWidget(m_top5[i], 2, i + 1);
  }
  m_channels = new QListWidget(box);
  m_channels->setViewMode(QListView::IconMode);
  m_channels->setIconSize(QSize(64, 64));
  m_channels->setResizeMode(QListView::Adjust);
  m_channels->setMovement(QListView::Static);
  m_channels->setUniformItemSizes(true);
  m_channels->setMinimumHeight(100);
  m_channels->setToolTip(tr("Every channel of the layer (model A); click one to show it above"));
  grid->addWidget(new QLabel(tr("<b>Channels</b> of the layer (click to show one)"), box), 3, 0, 1, 4);
  grid->addWidget(m_channels, 4, 0, 1, 5);
  m_filmstrip = new GateFilmstrip(box);
  connect(m_filmstrip, &GateFilmstrip::message, this, &GatesView::message);
  grid->addWidget(m_filmstrip, 5, 0, 1, 5);
  grid->setColumnStretch(4, 1);
  grid->setRowStretch(4, 1);
  return box;
}

GatesView::~GatesView() { delete m_job; }

void GatesView::refreshModels() {
  for (int side = 0; side < 2; ++side) {
    QComboBox* box = side == 0 ? m_modelA : m_modelB;
    const QString current = box->currentData().toString();
    QSignalBlocker block(box);
    box->clear();
    if (side == 1) box->addItem(tr("(none)"), QString());
    for (const auto& r : m_catalog->runs())
      if (r.hasCheckpoint()) box->addItem(r.name, r.bestCheckpoint());
    const int i = box->findData(current);
    if (i >= 0) {
      box->setCurrentIndex(i);
    } else if (side == 0 && current.isEmpty()) {
      // A model with gates to show: a GE run with a local extent (its gates vary over the image),
      // else any GE or SE run.
      int pick = -1;
      for (const auto& r : m_catalog->runs()) {
        if (!r.hasCheckpoint() || r.config.model.attention == AttentionKind::kNone) continue;
        const int index = box->findData(r.bestCheckpoint());
        if (pick < 0) pick = index;
        if (r.config.model.attention == AttentionKind::kGE && r.config.model.extent != kGlobalExtent) {
          pick = index;
          break;
        }
      }
      if (pick >= 0) box->setCurrentIndex(pick);
    } else if (!current.isEmpty()) {
      box->addItem(QFileInfo(current).fileName(), current);
      box->setCurrentIndex(box->count() - 1);
    }
  }
  compute();
}

void GatesView::setModel(const QString& checkpoint, int side) {
  QComboBox* box = side == 0 ? m_modelA : m_modelB;
  int i = box->findData(checkpoint);
  if (i < 0) {
    box->addItem(QFileInfo(checkpoint).fileName(), checkpoint);
    i = box->count() - 1;
  }
  box->setCurrentIndex(i);
  compute();
}

void GatesView::importWeights(const ImportOptions& options, const QString& out) {
  auto summary = std::make_shared<QString>();
  auto* job = new Job(tr("import"), [options, out, summary](Job& job) {
    job.reportProgress(-1, tr("importing %1").arg(QString::fromStdString(options.from)));
    const ImportedModel imported = import_weights(options);
    if (job.cancelled()) return;
    QDir().mkpath(QFileInfo(out).absolutePath());
    save_checkpoint(out.toStdString(), *imported.net, imported.info);
    const ImportReport& r = imported.report;
    *summary = tr("Imported %1 as %2: %3 tensors loaded")
                   .arg(QFileInfo(QString::fromStdString(options.from)).fileName(),
                        QString::fromStdString(imported.info.model.describe()))
                   .arg(r.loaded.size());
    if (!r.initialised.empty()) *summary += tr(", %1 initialised").arg(r.initialised.size());
    if (r.reinitialised_head)
      *summary += tr(", head re-initialised (%1 → %2 classes)").arg(r.file_classes).arg(imported.info.model.num_classes);
    *summary += tr(" → %1").arg(out);
  }, this);
  m_jobs->track(job);
  connect(job, &Job::finished, this, [this, job, out, summary](JobOutcome outcome, const QString& error) {
    job->deleteLater();
    m_jobs->setStatus({});  // "importing FILE" is over, whatever its end
    if (outcome == JobOutcome::kFailed) Q_EMIT message(error);
    if (outcome != JobOutcome::kDone || summary->isEmpty()) return;
    Q_EMIT message(*summary, MessageKind::kPositive);
    setModel(out, 0);
  });
  job->start();
}

QString GatesView::modelAt(int side) const { return (side == 0 ? m_modelA : m_modelB)->currentData().toString(); }

QStringList GatesView::images() const {
  QStringList out;
  for (int i = 0; i < m_images->count(); ++i) out << m_images->item(i)->data(Qt::UserRole).toString();
  return out;
}

void GatesView::addImages(const QStringList& files) {
  const QStringList known = images();
  int first = -1;
  for (const QString& f : files) {
    const QString path = QFileInfo(f).canonicalFilePath().isEmpty() ? QFileInfo(f).absoluteFilePath()
                                                                    : QFileInfo(f).canonicalFilePath();
    const int at = known.indexOf(path);
    if (at >= 0) {
      if (first < 0) first = at;
      continue;
    }
    auto* item = new QListWidgetItem(QFileInfo(path).fileName(), m_images);
    item->setData(Qt::UserRole, path);
    item->setToolTip(path);
    if (first < 0) first = m_images->count() - 1;
  }
  if (first >= 0) m_images->setCurrentRow(first);
}

void GatesView::setLayer(int index) { m_layer->setCurrentIndex(index); }
void GatesView::setChannel(int channel) { m_channel->setValue(channel); }
void GatesView::setDifference(bool on) { m_difference->setChecked(on); }
void GatesView::setPerMapScale(bool on) { m_scope->setCurrentIndex(on ? 1 : 0); }
QString GatesView::hint() const { return m_input->text(); }
void GatesView::setSmooth(bool on) { m_upsampling->setCurrentIndex(on ? 1 : 0); }
bool GatesView::isBusy() const { return m_job || m_pending; }
const GateResult* GatesView::result(int side) const { return m_results[side].get(); }
QString GatesView::caption(int panel) const { return m_captions[panel]->text(); }
QString GatesView::top5(int side) const { return m_top5[side]->text(); }

QString GatesView::requestKey(const QString& image, const QString& a, const QString& b) {
  QStringList key;
  for (const QString& file : {image, a, b})
    key << file << QString::number(QFileInfo(file).lastModified().toMSecsSinceEpoch());
  return key.join(QLatin1Char('\n'));
}

void GatesView::compute() {
  // Model A's run (a checkpoint in RUN/checkpoints/), whose probes the filmstrip shows.
  const QFileInfo checkpoint(modelAt(0));
  m_filmstrip->setRun(checkpoint.dir().dirName() == QLatin1String("checkpoints")
                          ? QFileInfo(checkpoint.dir().path()).absolutePath()
                          : QString());
  auto* item = m_images->currentItem();
  const QString image = item ? item->data(Qt::UserRole).toString() : QString();
  const QString models[2] = {modelAt(0), modelAt(1)};
  if (image.isEmpty() || models[0].isEmpty()) return;
  const QString request = requestKey(image, models[0], models[1]);
  if (request == m_shownRequest && !m_job) {  // already on screen; only "Computing…" may be stale
    redraw();
    return;
  }
  if (m_job) {  // one at a time: the latest request runs when this one ends
    m_pending = true;
    return;
  }
  auto out = std::make_shared<std::array<std::unique_ptr<GateResult>, 2>>();
  auto cache = m_models;
  auto* job = new Job(tr("gates"), [cache, out, image, a = models[0], b = models[1]](Job& job) {
    const QString paths[2] = {a, b};
    for (int side = 0; side < 2 && !job.cancelled(); ++side) {
      if (paths[side].isEmpty()) continue;
      job.reportProgress(side * 0.5, tr("gates of %1 on %2").arg(QFileInfo(paths[side]).fileName(), QFileInfo(image).fileName()));
      Checkpoint& ckpt = cache->get(paths[side].toStdString());
      const auto g = inspect_gates(*ckpt.net, ckpt.info.preprocess, image.toStdString());
      (*out)[side] = std::make_unique<GateResult>(gate_result(paths[side], g, ckpt.info.model));
    }
  }, this);
  m_job = job;
  m_jobs->track(job);
  connect(job, &Job::finished, this, [this, job, out, request](JobOutcome outcome, const QString& error) {
    job->deleteLater();
    m_job = nullptr;
    m_shownRequest = outcome == JobOutcome::kCancelled ? QString() : request;
    m_failure = outcome == JobOutcome::kFailed ? error : QString();
    if (outcome == JobOutcome::kDone) {
      for (int side = 0; side < 2; ++side) m_results[side] = std::move((*out)[side]);
      const int layer = std::max(0, m_layer->currentIndex());
      QSignalBlocker block(m_layer);
      m_layer->clear();
      if (m_results[0]) m_layer->addItems(m_results[0]->layers);
      if (m_layer->count() == 0)
        Q_EMIT message(tr("%1 has no attention modules: no gates to show").arg(modelAt(0)), MessageKind::kWarning);
      m_layer->setCurrentIndex(std::min(layer, m_layer->count() - 1));
    } else {
      // Nothing stale on screen: the panels would show another model's or image's gates.
      m_results[0].reset();
      m_results[1].reset();
      if (outcome == JobOutcome::kFailed) Q_EMIT message(error);  // names the image or the checkpoint
    }
    m_jobs->setStatus({});  // the job's last progress line ("gates of … on …") is over, whatever its end
    redraw();
    // A cancelled request is not started again; a newer one (asked for meanwhile) is.
    if (std::exchange(m_pending, false)) compute();
  });
  job->start();
}

void GatesView::redraw() {
  QSettings().setValue(QStringLiteral("gates/opacity"), m_opacity->value());
  QSettings().setValue(QStringLiteral("gates/colormap"), m_colormap->currentText());
  const QString colormap = m_colormap->currentText();
  const double opacity = m_opacity->value() / 100.0;
  const bool perMap = m_scope->currentIndex() == 1;
  const Upsampling upsampling = m_upsampling->currentIndex() == 1 ? Upsampling::kBilinear : Upsampling::kNearest;
  m_filmstrip->setView(m_layer->currentText(), m_channel->value(), colormap, opacity);
  m_side = panelSide();
  m_input->setFixedSize(m_side, m_side);
  for (int i = 0; i < 3; ++i) {
    m_panels[i]->setFixedSize(m_side, m_side);
    m_bars[i]->setFixedHeight(m_side);
    m_captions[i]->setMaximumWidth(m_side + m_bars[i]->sizeHint().width());
  }
  // Drawn at the screen's pixel density, so overlays stay sharp on a high-DPI display.
  const qreal dpr = devicePixelRatioF();
  const int px = qRound(m_side * dpr);
  for (int i = 0; i < 3; ++i) {
    m_overlays[i] = QImage();
    m_shown[i] = GateMap();
    m_panels[i]->clear();
    m_captions[i]->clear();
  }
  m_top5[0]->clear();
  m_top5[1]->clear();
  m_channels->clear();
  const auto showPanel = [this](int i, bool on) {
    m_panels[i]->setVisible(on);
    m_captions[i]->setVisible(on);
    m_bars[i]->setVisible(on);
  };
  if (!m_results[0] || m_results[0]->layers.isEmpty()) {
    m_input->setText(isBusy()               ? tr("Computing gates…")
                     : !m_failure.isEmpty() ? tr("No gates: %1").arg(m_failure)
                                            : tr("Choose a model with GE or SE modules and an image"));
    for (int i = 0; i < 3; ++i) showPanel(i, i == 0);
    m_bars[0]->setVisible(false);
    return;
  }
  QPixmap input = QPixmap::fromImage(scale_nearest(m_results[0]->input, px, px));
  input.setDevicePixelRatio(dpr);
  m_input->setPixmap(input);
  const int layer = std::clamp(m_layer->currentIndex(), 0, int(m_results[0]->layers.size()) - 1);
  bool gatelessB = false;
  for (int side = 0; side < 2; ++side) {
    const GateResult* r = m_results[side].get();
    if (!r) continue;
    if (r->layers.isEmpty()) {  // B without attention modules (a baseline): its predictions beside A's
      QPixmap plain = QPixmap::fromImage(scale_nearest(r->input, px, px));
      plain.setDevicePixelRatio(dpr);
      m_panels[side]->setPixmap(plain);
      m_captions[side]->setText(tr("<b>%1</b><br>no attention modules: no gates").arg(m_modelB->currentText()));
      m_top5[side]->setText(tr("<b>Top 5</b><br>") + r->top5.join(QStringLiteral("<br>")));
      gatelessB = true;
      continue;
    }
    // Layers are linked by relative depth, so networks of different depth line up.
    const int nA = int(m_results[0]->layers.size()), n = int(r->layers.size());
    const int l = side == 0 ? layer : int(std::lround(double(layer) * (n - 1) / std::max(1, nA - 1)));
    const auto& channels = r->maps[l];
    const int c = m_channel->value();
    const bool one = c >= 0 && c < int(channels.size());
    m_shown[side] = one ? channels[c] : channel_mean(channels);
    double lo = 0, hi = 1;
    if (perMap) {
      const auto [mn, mx] = std::minmax_element(m_shown[side].values.begin(), m_shown[side].values.end());
      lo = *mn, hi = *mx;
    }
    m_overlays[side] = compose_overlay(scale_nearest(r->input, px, px), m_shown[side], colormap, opacity, lo, hi,
                                       upsampling);
    QPixmap pixmap = QPixmap::fromImage(m_overlays[side]);
    pixmap.setDevicePixelRatio(dpr);
    m_panels[side]->setPixmap(pixmap);
    m_bars[side]->setMap(colormap, lo, hi);
    // The gate's own grid: one cell per gathered neighbourhood, ⌈H/e⌉×⌈W/e⌉. A global gate (SE,
    // GE at the global extent) is captured as its one value per channel, before it is broadcast:
    // its map's size is not in it.
    const int e = r->extent;
    const QString grid = e == kGlobalExtent
                             ? tr("global gate: one value per channel over the whole map")
                             : tr("gate %1×%2 cells on a %3×%4 map")
                                   .arg((m_shown[side].height + e - 1) / e)
                                   .arg((m_shown[side].width + e - 1) / e)
                                   .arg(m_shown[side].height)
                                   .arg(m_shown[side].width);
    m_captions[side]->setText(tr("<b>%1</b><br>%2 · %3<br>%4, shown at %5×%5 px")
                                  .arg(side == 0 ? m_modelA->currentText() : m_modelB->currentText(), r->layers[l],
                                       one ? tr("channel %1").arg(c) : tr("channel mean"), grid)
                                  .arg(m_side));
    m_top5[side]->setText(tr("<b>Top 5</b><br>") + r->top5.join(QStringLiteral("<br>")));
  }
  fillChannelGrid(layer, opacity);
  // Panels B and A − B take room only when they show something.
  if (m_difference->isChecked() && m_results[1] && !m_shown[1].values.empty()) {
    m_shown[2] = difference(m_shown[0], m_shown[1]);
    double m = 1e-6;
    for (float v : m_shown[2].values) m = std::max(m, double(std::abs(v)));
    m_overlays[2] = compose_overlay(scale_nearest(m_results[0]->input, px, px), m_shown[2], kDivergingMap, opacity, -m, m,
                                    upsampling);
    QPixmap pixmap = QPixmap::fromImage(m_overlays[2]);
    pixmap.setDevicePixelRatio(dpr);
    m_panels[2]->setPixmap(pixmap);
    m_bars[2]->setMap(kDivergingMap, -m, m);
    m_captions[2]->setText(tr("<b>A − B</b><br>blue: A below B, red: A above B<br>symmetric scale ±%1")
                               .arg(m, 0, 'g', 3));
  }
  showPanel(0, true);
  showPanel(1, !m_overlays[1].isNull() || gatelessB);
  m_bars[1]->setVisible(!m_overlays[1].isNull());
  showPanel(2, !m_overlays[2].isNull());
}

void GatesView::fillChannelGrid(int layer, double opacity) {
  const auto& channels = m_results[0]->maps[layer];
  const qreal dpr = devicePixelRatioF();
  const int px = qRound(64 * dpr);
  const QImage base = scale_nearest(m_results[0]->input, px, px);
  const bool perMap = m_scope->currentIndex() == 1;
  m_channels->clear();
  for (int c = 0; c < int(channels.size()); ++c) {
    double lo = 0, hi = 1;
    if (perMap) {
      const auto [mn, mx] = std::minmax_element(channels[c].values.begin(), channels[c].values.end());
      lo = *mn, hi = *mx;
    }
    QPixmap thumb = QPixmap::fromImage(compose_overlay(base, channels[c], m_colormap->currentText(), opacity, lo, hi));
    thumb.setDevicePixelRatio(dpr);
    auto* item = new QListWidgetItem(QIcon(thumb), QString::number(c), m_channels);
    item->setData(Qt::UserRole, c);
  }
  if (m_channel->value() >= 0 && m_channel->value() < m_channels->count()) m_channels->setCurrentRow(m_channel->value());
}

int GatesView::panelSide() const {
  // The panels in a row: the input, A, and B and A − B where they show; each gate panel with its
  // bar (a baseline as B has neither gates nor A − B).
  const bool gatesB = m_results[1] && !m_results[1]->layers.isEmpty();
  const int difference = m_difference->isChecked() && gatesB ? 1 : 0;
  const int panels = 2 + (m_results[1] ? 1 : 0) + difference;
  const int bars = 1 + (gatesB ? 1 : 0) + difference;
  const auto* grid = m_panelArea->widget()->layout();
  const QMargins margins = grid->contentsMargins();
  const int gap = std::max(0, grid->spacing());
  // The whole area less a vertical scroll bar, whether or not one shows: the side does not
  // change as it comes and goes.
  const int width = m_panelArea->width() - style()->pixelMetric(QStyle::PM_ScrollBarExtent) - margins.left() -
                    margins.right() - (panels - 1) * gap - bars * (m_bars[0]->sizeHint().width() + 2);
  const int height = m_panelArea->height() - margins.top() - margins.bottom() - kBesidePanels;
  return std::clamp(std::min(width / panels, height), kMinSide, kMaxSide);
}

bool GatesView::eventFilter(QObject* watched, QEvent* e) {
  if (watched == m_panelArea && e->type() == QEvent::Resize && panelSide() != m_side) redraw();
  return QWidget::eventFilter(watched, e);
}

void GatesView::showEvent(QShowEvent* e) {
  QWidget::showEvent(e);
  m_filmstrip->refresh();  // a run still training has new probes
  // Moved to a screen of another pixel density: redraw at the new one.
  if (QWindow* w = window()->windowHandle(); w && !m_watchingScreen) {
    m_watchingScreen = true;
    connect(w, &QWindow::screenChanged, this, &GatesView::redraw);
  }
}

}  // namespace gex::ui
