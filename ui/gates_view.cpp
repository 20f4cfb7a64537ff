#include "gates_view.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGridLayout>
#include <QLabel>
#include <QListWidget>
#include <QMimeData>
#include <QPushButton>
#include <QSettings>
#include <QSlider>
#include <QSpinBox>
#include <QVBoxLayout>

#include <array>
#include <map>

#include "analysis/gate_maps.h"
#include "job.h"
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

constexpr int kSide = 240;  // display size of every panel

QImage to_qimage(const torch::Tensor& pixels) {
  auto hwc = pixels.permute({1, 2, 0}).contiguous();
  const int h = int(hwc.size(0)), w = int(hwc.size(1)), c = int(hwc.size(2));
  QImage image(w, h, c == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
  for (int y = 0; y < h; ++y) std::memcpy(image.scanLine(y), hwc.data_ptr<uint8_t>() + size_t(y) * w * c, size_t(w) * c);
  return image;
}

GateResult to_result(const QString& model, const GateInspection& g) {
  GateResult r;
  r.model = model;
  r.input = to_qimage(g.pixels);
  for (const auto& [path, gate] : g.gates) {
    r.layers << QString::fromStdString(path);
    const auto t = gate[0].to(torch::kFloat32).contiguous();  // C×H×W
    std::vector<GateMap> channels(t.size(0));
    for (int64_t c = 0; c < t.size(0); ++c) {
      auto& m = channels[c];
      m.height = int(t.size(1));
      m.width = int(t.size(2));
      const float* p = t[c].data_ptr<float>();
      m.values.assign(p, p + m.height * m.width);
    }
    r.maps.push_back(std::move(channels));
  }
  for (const auto& [name, p] : g.top5) r.top5 << QStringLiteral("%1  %2 %").arg(QString::fromStdString(name)).arg(100 * p, 0, 'f', 1);
  return r;
}

GateMap channel_mean(const std::vector<GateMap>& channels) {
  GateMap m = channels.front();
  for (size_t c = 1; c < channels.size(); ++c)
    for (size_t i = 0; i < m.values.size(); ++i) m.values[i] += channels[c].values[i];
  for (auto& v : m.values) v /= float(channels.size());
  return m;
}

// a − b on a grid fine enough for both (nearest sampling, as the gates are applied).
GateMap difference(const GateMap& a, const GateMap& b) {
  GateMap d;
  d.height = std::max(a.height, b.height);
  d.width = std::max(a.width, b.width);
  d.values.resize(size_t(d.height) * d.width);
  for (int y = 0; y < d.height; ++y)
    for (int x = 0; x < d.width; ++x)
      d.values[size_t(y) * d.width + x] =
          a.at(y * a.height / d.height, x * a.width / d.width) - b.at(y * b.height / d.height, x * b.width / d.width);
  return d;
}

}  // namespace

GatesView::GatesView(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_models(std::make_shared<GateModels>()) {
  setAcceptDrops(true);
  m_modelA = new QComboBox(this);
  m_modelB = new QComboBox(this);
  m_layer = new QComboBox(this);
  m_colormap = new QComboBox(this);
  m_colormap->addItems(colormap_names());
  m_scope = new QComboBox(this);
  m_scope->addItems({tr("fixed [0, 1]"), tr("per map (min–max)")});
  m_channel = new QSpinBox(this);
  m_channel->setRange(-1, 4095);
  m_channel->setSpecialValueText(tr("channel mean"));
  m_channel->setValue(-1);
  m_opacity = new QSlider(Qt::Horizontal, this);
  m_opacity->setRange(0, 100);
  m_opacity->setValue(QSettings().value(QStringLiteral("gates/opacity"), 60).toInt());
  m_difference = new QCheckBox(tr("Show A − B"), this);
  m_images = new QListWidget(this);
  auto* open = new QPushButton(tr("Open images…"), this);
  auto* openModel = new QPushButton(tr("Open checkpoint…"), this);

  auto* form = new QFormLayout;
  form->addRow(tr("Model A"), m_modelA);
  form->addRow(tr("Model B"), m_modelB);
  form->addRow(openModel);
  form->addRow(tr("Layer"), m_layer);
  form->addRow(tr("Channel"), m_channel);
  form->addRow(tr("Colour map"), m_colormap);
  form->addRow(tr("Opacity"), m_opacity);
  form->addRow(tr("Scale"), m_scope);
  form->addRow(m_difference);
  auto* controls = new QWidget(this);
  auto* column = new QVBoxLayout(controls);
  column->setContentsMargins(0, 0, 0, 0);
  column->addLayout(form);
  column->addWidget(new QLabel(tr("Images (open, or drop files on this view)"), this));
  column->addWidget(m_images, 1);
  column->addWidget(open);
  controls->setMaximumWidth(340);

  auto* grid = new QGridLayout;
  m_input = new QLabel(this);
  m_input->setFixedSize(kSide, kSide);
  m_input->setAlignment(Qt::AlignCenter);
  m_input->setWordWrap(true);
  grid->addWidget(new QLabel(tr("<b>Input</b> (as the model sees it)"), this), 0, 0);
  grid->addWidget(m_input, 1, 0);
  for (int i = 0; i < 3; ++i) {
    m_panels[i] = new QLabel(this);
    m_panels[i]->setFixedSize(kSide, kSide);
    m_panels[i]->setAlignment(Qt::AlignCenter);
    m_captions[i] = new QLabel(this);
    m_captions[i]->setWordWrap(true);
    m_captions[i]->setMaximumWidth(kSide);
    grid->addWidget(m_captions[i], 0, i + 1);
    grid->addWidget(m_panels[i], 1, i + 1);
  }
  for (int i = 0; i < 2; ++i) {
    m_top5[i] = new QLabel(this);
    m_top5[i]->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    grid->addWidget(m_top5[i], 2, i + 1);
  }
  m_bar = new ColorBar(this);
  m_bar->setFixedHeight(kSide);
  grid->addWidget(m_bar, 1, 4);
  m_channels = new QListWidget(this);
  m_channels->setViewMode(QListView::IconMode);
  m_channels->setIconSize(QSize(64, 64));
  m_channels->setResizeMode(QListView::Adjust);
  m_channels->setMovement(QListView::Static);
  m_channels->setUniformItemSizes(true);
  m_channels->setToolTip(tr("Every channel of the layer (model A); click one to show it above"));
  grid->addWidget(new QLabel(tr("<b>Channels</b> of the layer (click to show one)"), this), 3, 0, 1, 5);
  grid->addWidget(m_channels, 4, 0, 1, 6);
  grid->setColumnStretch(5, 1);
  grid->setRowStretch(4, 1);
  auto* layout = new QHBoxLayout(this);
  layout->addWidget(controls);
  layout->addLayout(grid, 1);

  m_colormap->setCurrentText(QSettings().value(QStringLiteral("gates/colormap"), QStringLiteral("viridis")).toString());
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
  for (auto* c : {m_modelA, m_modelB}) connect(c, &QComboBox::currentIndexChanged, this, &GatesView::compute);
  connect(m_images, &QListWidget::currentRowChanged, this, &GatesView::compute);
  for (auto* c : {m_layer, m_colormap, m_scope}) connect(c, &QComboBox::currentIndexChanged, this, &GatesView::redraw);
  connect(m_channel, &QSpinBox::valueChanged, this, &GatesView::redraw);
  connect(m_opacity, &QSlider::valueChanged, this, &GatesView::redraw);
  connect(m_difference, &QCheckBox::toggled, this, &GatesView::redraw);
  connect(m_channels, &QListWidget::itemClicked, this,
          [this](QListWidgetItem* item) { m_channel->setValue(item->data(Qt::UserRole).toInt()); });
  connect(m_catalog, &RunCatalog::runsChanged, this, &GatesView::refreshModels);
  refreshModels();
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
    }
    else if (!current.isEmpty()) box->addItem(QFileInfo(current).fileName(), current), box->setCurrentIndex(box->count() - 1);
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

QString GatesView::modelAt(int side) const { return (side == 0 ? m_modelA : m_modelB)->currentData().toString(); }

void GatesView::addImages(const QStringList& files) {
  if (files.isEmpty()) return;
  for (const QString& f : files) {
    auto* item = new QListWidgetItem(QFileInfo(f).fileName(), m_images);
    item->setData(Qt::UserRole, f);
    item->setToolTip(f);
  }
  m_images->setCurrentRow(m_images->count() - int(files.size()));
}

void GatesView::setLayer(int index) { m_layer->setCurrentIndex(index); }
void GatesView::setChannel(int channel) { m_channel->setValue(channel); }
bool GatesView::isBusy() const { return m_job || m_pending; }
const GateResult* GatesView::result(int side) const { return m_results[side].get(); }

void GatesView::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void GatesView::dropEvent(QDropEvent* e) {
  QStringList files;
  for (const QUrl& url : e->mimeData()->urls())
    if (url.isLocalFile()) files << url.toLocalFile();
  addImages(files);
}

void GatesView::compute() {
  auto* item = m_images->currentItem();
  const QString image = item ? item->data(Qt::UserRole).toString() : QString();
  const QString models[2] = {modelAt(0), modelAt(1)};
  if (image.isEmpty() || models[0].isEmpty()) return;
  if (m_job) {  // one at a time: the latest request runs when this one ends
    m_pending = true;
    return;
  }
  auto out = std::make_shared<std::array<std::unique_ptr<GateResult>, 2>>();
  auto cache = m_models;
  auto* job = new Job(tr("gates"), [cache, out, image, a = models[0], b = models[1]](Job&) {
    const QString paths[2] = {a, b};
    for (int side = 0; side < 2; ++side) {
      if (paths[side].isEmpty()) continue;
      Checkpoint& ckpt = cache->get(paths[side].toStdString());
      const auto g = inspect_gates(*ckpt.net, ckpt.info.preprocess, image.toStdString());
      (*out)[side] = std::make_unique<GateResult>(to_result(paths[side], g));
    }
  }, this);
  m_job = job;
  connect(job, &Job::finished, this, [this, job, out, image](bool ok, const QString& error) {
    job->deleteLater();
    m_job = nullptr;
    if (ok) {
      for (int side = 0; side < 2; ++side) m_results[side] = std::move((*out)[side]);
      const int layer = std::max(0, m_layer->currentIndex());
      QSignalBlocker block(m_layer);
      m_layer->clear();
      if (m_results[0]) m_layer->addItems(m_results[0]->layers);
      if (m_layer->count() == 0) Q_EMIT message(tr("%1 has no attention modules: no gates to show").arg(modelAt(0)));
      m_layer->setCurrentIndex(std::min(layer, m_layer->count() - 1));
    } else {
      // Nothing stale on screen: the panels would show another model's or image's gates.
      m_results[0].reset();
      m_results[1].reset();
      Q_EMIT message(error);  // names the image or the checkpoint
    }
    redraw();
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
  for (int i = 0; i < 3; ++i) {
    m_overlays[i] = QImage();
    m_shown[i] = GateMap();
    m_panels[i]->clear();
    m_captions[i]->clear();
  }
  m_top5[0]->clear();
  m_top5[1]->clear();
  m_channels->clear();
  if (!m_results[0] || m_results[0]->layers.isEmpty()) {
    m_input->setText(tr("Choose a model with GE or SE modules and an image"));
    return;
  }
  const QImage input = scale_nearest(m_results[0]->input, kSide, kSide);
  m_input->setPixmap(QPixmap::fromImage(input));
  const int layer = std::clamp(m_layer->currentIndex(), 0, int(m_results[0]->layers.size()) - 1);
  double lo = 0, hi = 1;
  for (int side = 0; side < 2; ++side) {
    const GateResult* r = m_results[side].get();
    if (!r || r->layers.isEmpty()) continue;
    // Layers are linked by relative depth, so networks of different depth line up.
    const int nA = int(m_results[0]->layers.size()), n = int(r->layers.size());
    const int l = side == 0 ? layer : int(std::lround(double(layer) * (n - 1) / std::max(1, nA - 1)));
    const auto& channels = r->maps[l];
    const int c = m_channel->value();
    m_shown[side] = c >= 0 && c < int(channels.size()) ? channels[c] : channel_mean(channels);
    const auto [mn, mx] = std::minmax_element(m_shown[side].values.begin(), m_shown[side].values.end());
    if (perMap) lo = *mn, hi = *mx;
    const QImage base = scale_nearest(r->input, kSide, kSide);
    m_overlays[side] = compose_overlay(base, m_shown[side], colormap, opacity, lo, hi);
    m_panels[side]->setPixmap(QPixmap::fromImage(m_overlays[side]));
    m_captions[side]->setText(QStringLiteral("<b>%1</b><br>%2 · %3 · %4×%5")
                                  .arg(side == 0 ? m_modelA->currentText() : m_modelB->currentText(), r->layers[l],
                                       c >= 0 && c < int(channels.size()) ? tr("channel %1").arg(c) : tr("channel mean"))
                                  .arg(m_shown[side].height)
                                  .arg(m_shown[side].width));
    m_top5[side]->setText(tr("<b>Top 5</b><br>") + r->top5.join(QStringLiteral("<br>")));
  }
  m_bar->setMap(colormap, lo, hi);
  fillChannelGrid(layer, opacity);
  // Panels B and A − B take room only when they show something.
  const auto showPanel = [this](int i, bool on) {
    m_panels[i]->setVisible(on);
    m_captions[i]->setVisible(on);
  };
  if (m_difference->isChecked() && m_results[1] && !m_shown[1].values.empty()) {
    m_shown[2] = difference(m_shown[0], m_shown[1]);
    double m = 1e-6;
    for (float v : m_shown[2].values) m = std::max(m, double(std::abs(v)));
    m_overlays[2] = compose_overlay(input, m_shown[2], colormap, opacity, -m, m);
    m_panels[2]->setPixmap(QPixmap::fromImage(m_overlays[2]));
    m_captions[2]->setText(tr("<b>A − B</b><br>scale ±%1").arg(m, 0, 'g', 3));
  }
  showPanel(1, !m_overlays[1].isNull());
  showPanel(2, !m_overlays[2].isNull());
}

void GatesView::fillChannelGrid(int layer, double opacity) {
  const auto& channels = m_results[0]->maps[layer];
  const QImage base = scale_nearest(m_results[0]->input, 64, 64);
  const bool perMap = m_scope->currentIndex() == 1;
  m_channels->clear();
  for (int c = 0; c < int(channels.size()); ++c) {
    double lo = 0, hi = 1;
    if (perMap) {
      const auto [mn, mx] = std::minmax_element(channels[c].values.begin(), channels[c].values.end());
      lo = *mn, hi = *mx;
    }
    const QImage thumb = compose_overlay(base, channels[c], m_colormap->currentText(), opacity, lo, hi);
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(thumb)), QString::number(c), m_channels);
    item->setData(Qt::UserRole, c);
  }
  if (m_channel->value() >= 0 && m_channel->value() < m_channels->count()) m_channels->setCurrentRow(m_channel->value());
}


}  // namespace gex::ui
