// Gate maps as pictures: colour maps, a gate over its image (nearest cells, as the network applies
// the gate), and the colour bar. Plain Qt, no engine types: the Gates view and its tests use it.
#pragma once

#include <QImage>
#include <QStringList>
#include <QWidget>

#include <vector>

namespace gex::ui {

struct GateMap {
  int height = 0, width = 0;
  std::vector<float> values;  // row-major
  float at(int y, int x) const { return values[size_t(y) * width + x]; }
};

QStringList colormap_names();  // viridis, magma, inferno, plasma, jet, gray
// Blue (negative) – white – red (positive), for differences on a symmetric scale.
inline const QString kDivergingMap = QStringLiteral("diverging");
// The colour of t ∈ [0, 1] (clamped) in the named map.
QColor colormap_color(const QString& name, double t);

// Nearest-neighbour enlargement with the cell rule compose_overlay uses (source = x·w/W), so
// input pixels and gate cells line up exactly.
QImage scale_nearest(const QImage& image, int width, int height);

// How a coarse gate map is enlarged to the image: its exact cells, as the network applies the gate
// (nearest), or smoothed for the eye (bilinear between cell centres, as F.interpolate with
// align_corners=False; edges clamped).
enum class Upsampling { kNearest, kBilinear };

// The map's value at output pixel (x, y) of a width × height picture.
float sample(const GateMap& map, int x, int y, int width, int height, Upsampling upsampling);

// The image (any size) with the map scaled from [lo, hi] to [0, 1], colour-mapped and blended with
// `opacity` over it: out = (1 − opacity)·image + opacity·colour. Output size = image size.
QImage compose_overlay(const QImage& image, const GateMap& map, const QString& colormap, double opacity, double lo,
                       double hi, Upsampling upsampling = Upsampling::kNearest);

// A vertical colour bar with its range written beside it.
class ColorBar : public QWidget {
  Q_OBJECT
 public:
  explicit ColorBar(QWidget* parent = nullptr);
  void setMap(const QString& colormap, double lo, double hi);
  double lo() const { return m_lo; }
  double hi() const { return m_hi; }
  const QString& colormap() const { return m_colormap; }
  QSize sizeHint() const override { return {70, 200}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  QString m_colormap = QStringLiteral("viridis");
  double m_lo = 0, m_hi = 1;
};

}  // namespace gex::ui
