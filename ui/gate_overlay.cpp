#include "gate_overlay.h"

#include <QPainter>

#include <algorithm>
#include <array>
#include <cmath>

namespace gex::ui {

namespace {

using Stops = std::vector<std::array<double, 3>>;  // evenly spaced RGB in [0, 1]

// Matplotlib's perceptual maps, sampled at nine points (interpolated linearly between them).
const Stops& stops(const QString& name) {
  static const Stops viridis = {{0.267, 0.005, 0.329}, {0.283, 0.141, 0.458}, {0.254, 0.265, 0.530},
                                {0.207, 0.372, 0.553}, {0.164, 0.471, 0.558}, {0.128, 0.567, 0.551},
                                {0.135, 0.659, 0.518}, {0.267, 0.749, 0.441}, {0.478, 0.821, 0.318},
                                {0.741, 0.873, 0.150}, {0.993, 0.906, 0.144}};
  static const Stops magma = {{0.001, 0.000, 0.014}, {0.113, 0.065, 0.277}, {0.317, 0.071, 0.485},
                              {0.513, 0.148, 0.508}, {0.716, 0.215, 0.475}, {0.904, 0.310, 0.388},
                              {0.986, 0.536, 0.382}, {0.996, 0.769, 0.534}, {0.987, 0.991, 0.750}};
  static const Stops inferno = {{0.001, 0.000, 0.014}, {0.135, 0.047, 0.330}, {0.341, 0.062, 0.429},
                                {0.550, 0.161, 0.406}, {0.735, 0.216, 0.330}, {0.890, 0.353, 0.195},
                                {0.978, 0.557, 0.035}, {0.976, 0.788, 0.196}, {0.988, 0.998, 0.645}};
  static const Stops plasma = {{0.050, 0.030, 0.528}, {0.294, 0.012, 0.631}, {0.494, 0.012, 0.658},
                               {0.665, 0.139, 0.586}, {0.798, 0.280, 0.470}, {0.902, 0.425, 0.360},
                               {0.973, 0.585, 0.252}, {0.993, 0.771, 0.155}, {0.940, 0.975, 0.131}};
  static const Stops jet = {{0, 0, 0.5}, {0, 0, 1}, {0, 0.5, 1}, {0, 1, 1}, {0.5, 1, 0.5},
                            {1, 1, 0}, {1, 0.5, 0}, {1, 0, 0}, {0.5, 0, 0}};
  static const Stops gray = {{0, 0, 0}, {1, 1, 1}};
  // ColorBrewer's RdBu, blue for negative, white at the middle, red for positive: differences.
  static const Stops diverging = {{0.020, 0.188, 0.380}, {0.129, 0.400, 0.675}, {0.263, 0.576, 0.765},
                                  {0.573, 0.773, 0.871}, {0.969, 0.969, 0.969}, {0.957, 0.647, 0.510},
                                  {0.839, 0.376, 0.302}, {0.698, 0.094, 0.169}, {0.404, 0.000, 0.122}};
  if (name == QLatin1String("magma")) return magma;
  if (name == QLatin1String("inferno")) return inferno;
  if (name == QLatin1String("plasma")) return plasma;
  if (name == QLatin1String("jet")) return jet;
  if (name == QLatin1String("gray")) return gray;
  if (name == kDivergingMap) return diverging;
  return viridis;
}

}  // namespace

QStringList colormap_names() {
  return {QStringLiteral("viridis"), QStringLiteral("magma"), QStringLiteral("inferno"),
          QStringLiteral("plasma"),  QStringLiteral("jet"),   QStringLiteral("gray")};
}

QColor colormap_color(const QString& name, double t) {
  const auto& s = stops(name);
  t = std::clamp(std::isnan(t) ? 0.0 : t, 0.0, 1.0) * double(s.size() - 1);
  const size_t i = std::min(size_t(t), s.size() - 2);
  const double f = t - double(i);
  const auto mix = [&](int k) { return int(std::lround(255 * ((1 - f) * s[i][k] + f * s[i + 1][k]))); };
  return QColor(mix(0), mix(1), mix(2));
}

QImage scale_nearest(const QImage& image, int width, int height) {
  const QImage src = image.convertToFormat(QImage::Format_RGB32);
  QImage out(width, height, QImage::Format_RGB32);
  for (int y = 0; y < height; ++y) {
    const auto* in = reinterpret_cast<const QRgb*>(src.constScanLine(y * src.height() / height));
    auto* line = reinterpret_cast<QRgb*>(out.scanLine(y));
    for (int x = 0; x < width; ++x) line[x] = in[x * src.width() / width];
  }
  return out;
}

float sample(const GateMap& map, int x, int y, int width, int height, Upsampling upsampling) {
  if (upsampling == Upsampling::kNearest)
    return map.at(std::min(map.height - 1, y * map.height / height), std::min(map.width - 1, x * map.width / width));
  // The output pixel's centre in map coordinates, cell centres at integers.
  const double v = std::clamp((y + 0.5) * map.height / height - 0.5, 0.0, double(map.height - 1));
  const double u = std::clamp((x + 0.5) * map.width / width - 0.5, 0.0, double(map.width - 1));
  const int y0 = int(v), x0 = int(u);
  const int y1 = std::min(y0 + 1, map.height - 1), x1 = std::min(x0 + 1, map.width - 1);
  const double fy = v - y0, fx = u - x0;
  const double top = (1 - fx) * map.at(y0, x0) + fx * map.at(y0, x1);
  const double bottom = (1 - fx) * map.at(y1, x0) + fx * map.at(y1, x1);
  return float((1 - fy) * top + fy * bottom);
}

QImage compose_overlay(const QImage& image, const GateMap& map, const QString& colormap, double opacity, double lo,
                       double hi, Upsampling upsampling) {
  QImage out = image.convertToFormat(QImage::Format_RGB32);
  if (map.height <= 0 || map.width <= 0) return out;
  const double span = std::max(hi - lo, 1e-12);
  opacity = std::clamp(opacity, 0.0, 1.0);
  for (int y = 0; y < out.height(); ++y) {
    auto* line = reinterpret_cast<QRgb*>(out.scanLine(y));
    for (int x = 0; x < out.width(); ++x) {
      const QColor c = colormap_color(colormap, (sample(map, x, y, out.width(), out.height(), upsampling) - lo) / span);
      const QRgb p = line[x];
      const auto blend = [&](int under, int over) { return int(std::lround((1 - opacity) * under + opacity * over)); };
      line[x] = qRgb(blend(qRed(p), c.red()), blend(qGreen(p), c.green()), blend(qBlue(p), c.blue()));
    }
  }
  return out;
}

ColorBar::ColorBar(QWidget* parent) : QWidget(parent) { setMinimumWidth(64); }

void ColorBar::setMap(const QString& colormap, double lo, double hi) {
  m_colormap = colormap;
  m_lo = lo;
  m_hi = hi;
  update();
}

void ColorBar::paintEvent(QPaintEvent*) {
  QPainter p(this);
  const int top = 8, bottom = height() - 8, barWidth = 16;
  for (int y = top; y <= bottom; ++y) {
    p.setPen(colormap_color(m_colormap, 1.0 - double(y - top) / std::max(1, bottom - top)));
    p.drawLine(4, y, 4 + barWidth, y);
  }
  p.setPen(palette().color(QPalette::WindowText));
  p.drawRect(4, top, barWidth, bottom - top);
  const QFontMetrics fm(font());
  p.drawText(QPoint(26, top + fm.ascent() / 2 + 1), QString::number(m_hi, 'g', 3));
  p.drawText(QPoint(26, (top + bottom) / 2 + fm.ascent() / 2), QString::number((m_lo + m_hi) / 2, 'g', 3));
  p.drawText(QPoint(26, bottom + fm.ascent() / 2 - 1), QString::number(m_lo, 'g', 3));
}

}  // namespace gex::ui
