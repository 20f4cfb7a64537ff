#include "gate_filmstrip.h"

#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QListWidget>
#include <QPainter>
#include <QPushButton>
#include <QSettings>
#include <QVBoxLayout>

#include "analysis/probe.h"
#include "errors.h"
#include "flow_layout.h"
#include "gate_result.h"
#include "io/image.h"
#include "io/npy.h"
#include "train/checkpoint.h"
#include "plural.h"

namespace gex::ui {

namespace {

constexpr int kThumb = 96;     // a thumbnail's side
constexpr int kFrame = 240;    // an exported frame's side
constexpr double kFps = 4.0;   // the exported video's frames per second

// The normalised 1×C×S×S input back to the pixels the model saw.
QImage to_pixels(const torch::Tensor& input, const Preprocess& pre) {
  auto x = input[0].to(torch::kFloat64).clone();
  for (int64_t c = 0; c < x.size(0) && c < int64_t(pre.mean.size()); ++c)
    x[c].mul_(pre.std[c]).add_(pre.mean[c]);
  return to_qimage((x * 255.0).round().clamp(0, 255).to(torch::kUInt8));
}

// Channel `channel` of a 1×C×H×W gate, or the mean over its channels.
GateMap to_map(const torch::Tensor& gate, int channel) {
  const auto g = gate[0].to(torch::kFloat32);
  const auto m = (channel >= 0 && channel < g.size(0) ? g[channel] : g.mean(0)).contiguous();
  GateMap map;
  map.height = int(m.size(0));
  map.width = int(m.size(1));
  map.values.assign(m.data_ptr<float>(), m.data_ptr<float>() + m.numel());
  return map;
}

QString probes_dir(const QString& run) { return QDir(run).filePath(QStringLiteral("probes")); }

}  // namespace

GateFilmstrip::GateFilmstrip(QWidget* parent)
    : QWidget(parent),
      m_image(new QComboBox(this)),
      m_export(new QPushButton(tr("Export animation…"), this)),
      m_status(new QLabel(this)),
      m_strip(new QListWidget(this)) {
  m_image->setToolTip(tr("The probe image followed through training: the first test image of each class, and the "
                         "files given with --probe-images"));
  m_image->setAccessibleName(tr("Probe image"));
  m_image->setMinimumContentsLength(14);
  m_export->setToolTip(tr("Write every frame as a PNG and the whole as a Motion-JPEG AVI video"));
  m_strip->setViewMode(QListView::IconMode);
  m_strip->setFlow(QListView::LeftToRight);
  m_strip->setWrapping(false);
  m_strip->setMovement(QListView::Static);
  m_strip->setIconSize(QSize(kThumb, kThumb));
  m_strip->setFixedHeight(kThumb + 48);
  m_strip->setUniformItemSizes(true);
  m_strip->setToolTip(tr("The gate of the chosen image, layer and channel at every probe of model A's run"));
  m_status->setWordWrap(true);
  // One row where there is room, wrapping where there is not (the Gates view at 1024 px).
  auto* top = new FlowLayout;
  top->addWidget(new QLabel(tr("<b>Through training</b> (model A's probes)"), this));
  top->addWidget(m_image);
  top->addWidget(m_export);
  top->addWidget(m_status);
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(top);
  layout->addWidget(m_strip);
  connect(m_image, &QComboBox::currentIndexChanged, this, &GateFilmstrip::load);
  connect(m_export, &QPushButton::clicked, this, [this] {
    QSettings settings;
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Export the animation to"),
                                                          settings.value(QStringLiteral("dirs/export")).toString());
    if (dir.isEmpty()) return;
    settings.setValue(QStringLiteral("dirs/export"), dir);
    try {
      const QStringList files = exportAnimation(dir);
      Q_EMIT message(tr("Wrote %1 frames and %2").arg(files.size() - 1).arg(files.back()), MessageKind::kPositive);
    } catch (const Error& e) {
      Q_EMIT message(QString::fromStdString(e.what()));
    }
  });
  setRun({});
}

void GateFilmstrip::setRun(const QString& run) {
  if (run == m_run && !run.isEmpty()) return refresh();
  m_run = run;
  m_indexStamp = {};
  refresh();
}

void GateFilmstrip::setView(const QString& layer, int channel, const QString& colormap, double opacity) {
  const bool reload = layer != m_layer || channel != m_channel;
  m_layer = layer, m_channel = channel, m_colormap = colormap, m_opacity = opacity;
  if (reload) load();
  else draw();
}

void GateFilmstrip::refresh() {
  const QString index = m_run.isEmpty() ? QString() : QDir(probes_dir(m_run)).filePath(QStringLiteral("index.csv"));
  const FileStamp stamp = file_stamp(index);
  if (stamp == m_indexStamp) return;
  m_indexStamp = stamp;
  listImages();
  load();
}

// The probe images, from the newest probe's predictions.json.
void GateFilmstrip::listImages() {
  const QString current = m_image->currentData().toString();
  const QSignalBlocker block(m_image);
  m_image->clear();
  std::vector<ProbeRecord> records;
  try {
    if (!m_run.isEmpty()) records = read_probe_index(m_run.toStdString());
  } catch (const Error& e) {
    Q_EMIT message(QString::fromStdString(e.what()));
  }
  if (records.empty()) return;
  QFile file(QDir(probes_dir(m_run)).filePath(QString::fromStdString(records.back().dir) +
                                               QStringLiteral("/predictions.json")));
  if (!file.open(QIODevice::ReadOnly)) return;
  for (const auto& v : QJsonDocument::fromJson(file.readAll()).object().value(QStringLiteral("images")).toArray()) {
    const QJsonObject image = v.toObject();
    const QString stem = image.value(QStringLiteral("stem")).toString();
    if (stem.isEmpty()) continue;
    const QString label = image.value(QStringLiteral("label")).toString();
    m_image->addItem(label.isEmpty() ? stem : QStringLiteral("%1 (%2)").arg(stem, label), stem);
  }
  const int i = m_image->findData(current);
  m_image->setCurrentIndex(i >= 0 ? i : 0);
}

void GateFilmstrip::load() {
  m_frames.clear();
  const QString stem = m_image->currentData().toString();
  std::vector<ProbeRecord> records;
  Preprocess pre;
  try {
    if (!m_run.isEmpty() && !stem.isEmpty()) {
      records = read_probe_index(m_run.toStdString());
      const QDir checkpoints(QDir(m_run).filePath(QStringLiteral("checkpoints")));
      const QString ckpt = QFileInfo::exists(checkpoints.filePath(QStringLiteral("last.safetensors")))
                               ? checkpoints.filePath(QStringLiteral("last.safetensors"))
                               : checkpoints.filePath(QStringLiteral("best.safetensors"));
      pre = read_checkpoint_info(ckpt.toStdString()).preprocess;
    }
    for (const auto& r : records) {
      const QDir probe(QDir(probes_dir(m_run)).filePath(QString::fromStdString(r.dir)));
      const QDir gates(probe.filePath(QStringLiteral("gates/") + stem));
      QString layer = m_layer;
      if (layer.isEmpty()) {  // the first module, by name (depth order for ResNets)
        const QStringList files = gates.entryList({QStringLiteral("*.npy")}, QDir::Files, QDir::Name);
        if (files.isEmpty()) continue;
        layer = files.front().chopped(4);
      }
      const QString gate = gates.filePath(layer + QStringLiteral(".npy"));
      if (!QFileInfo::exists(gate)) continue;  // a model without this module, or a probe without the image
      Frame f;
      f.step = r.step;
      f.epoch = r.epoch;
      f.input = to_pixels(read_npy(probe.filePath(QStringLiteral("inputs/%1.npy").arg(stem)).toStdString()), pre);
      f.map = to_map(read_npy(gate.toStdString()), m_channel);
      m_frames.push_back(std::move(f));
    }
  } catch (const Error& e) {
    m_frames.clear();
    Q_EMIT message(QString::fromStdString(e.what()));
  }
  draw();
}

void GateFilmstrip::setCurrentStep(int64_t step) {
  int row = -1;
  for (size_t i = 0; i < m_frames.size(); ++i)
    if (m_frames[i].step <= step) row = int(i);
  if (row < 0) return;
  m_strip->setCurrentRow(row);
  m_strip->scrollToItem(m_strip->item(row));
}

QImage GateFilmstrip::frameImage(const Frame& f, int side) const {
  const QImage overlay = compose_overlay(scale_nearest(f.input, side, side), f.map, m_colormap, m_opacity, 0, 1);
  const int caption = std::max(14, side / 10);
  QImage out(side, side + caption, QImage::Format_RGB888);
  out.fill(Qt::white);
  QPainter p(&out);
  p.drawImage(0, 0, overlay);
  QFont font = p.font();
  font.setPixelSize(caption - 4);
  p.setFont(font);
  p.setPen(Qt::black);
  p.drawText(QRect(0, side, side, caption), Qt::AlignCenter,
             tr("step %L1 · epoch %2").arg(f.step).arg(f.epoch, 0, 'f', 2));
  return out;
}

void GateFilmstrip::draw() {
  m_strip->clear();
  for (const auto& f : m_frames) {
    const QImage thumb = compose_overlay(scale_nearest(f.input, kThumb, kThumb), f.map, m_colormap, m_opacity, 0, 1);
    auto* item = new QListWidgetItem(QIcon(QPixmap::fromImage(thumb)), tr("step %L1").arg(f.step), m_strip);
    item->setToolTip(tr("step %L1 · epoch %2").arg(f.step).arg(f.epoch, 0, 'f', 2));
  }
  m_export->setEnabled(!m_frames.empty());
  m_status->setText(m_run.isEmpty() || m_image->count() == 0
                        ? tr("Model A's run has no probes (train with probes, or Compute probes in Selectivity)")
                        : plural(int(m_frames.size()), "%1 probe", "%1 probes"));
  if (!m_frames.empty()) m_strip->scrollToItem(m_strip->item(m_strip->count() - 1));
}

QStringList GateFilmstrip::exportAnimation(const QString& dir) const {
  if (m_frames.empty()) throw UsageError("no probes to export");
  QString name = m_image->currentData().toString() + QLatin1Char('-') + (m_layer.isEmpty() ? QStringLiteral("gate") : m_layer);
  if (m_channel >= 0) name += QStringLiteral(".c%1").arg(m_channel);
  const QString avi = QDir(dir).filePath(name + QStringLiteral(".avi"));
  const auto png_of = [&](size_t i) {
    return QDir(dir).filePath(QStringLiteral("%1-%2.png").arg(name).arg(i, 4, 10, QLatin1Char('0')));
  };
  // Never over the user's files: checked for every file before the first is written.
  QStringList planned{avi};
  for (size_t i = 0; i < m_frames.size(); ++i) planned << png_of(i);
  for (const QString& file : planned)
    if (QFileInfo::exists(file))
      throw UsageError(file.toStdString() + " exists: export to another folder, or move it first");
  QStringList written;
  std::vector<torch::Tensor> video;
  for (size_t i = 0; i < m_frames.size(); ++i) {
    const QImage frame = frameImage(m_frames[i], kFrame);
    const QString png = png_of(i);
    if (!frame.save(png)) throw InputError(png.toStdString(), "cannot be written");
    written << png;
    auto rgb = torch::empty({frame.height(), frame.width(), 3}, torch::kUInt8);
    for (int y = 0; y < frame.height(); ++y)
      std::memcpy(rgb[y].data_ptr<uint8_t>(), frame.constScanLine(y), size_t(frame.width()) * 3);
    video.push_back(rgb);
  }
  write_mjpeg_video(avi.toStdString(), video, kFps);
  written << avi;
  return written;
}

}  // namespace gex::ui
