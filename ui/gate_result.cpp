#include "gate_result.h"

#include <algorithm>
#include <cstring>

#include "analysis/gate_maps.h"
#include "models/model_spec.h"

namespace gex::ui {

QImage to_qimage(const torch::Tensor& pixels) {
  auto hwc = pixels.permute({1, 2, 0}).contiguous();
  const int h = int(hwc.size(0)), w = int(hwc.size(1)), c = int(hwc.size(2));
  QImage image(w, h, c == 1 ? QImage::Format_Grayscale8 : QImage::Format_RGB888);
  for (int y = 0; y < h; ++y) std::memcpy(image.scanLine(y), hwc.data_ptr<uint8_t>() + size_t(y) * w * c, size_t(w) * c);
  return image;
}

GateResult gate_result(const QString& model, const GateInspection& g, const ModelSpec& spec) {
  GateResult r;
  r.model = model;
  r.extent = spec.attention == AttentionKind::kGE ? spec.extent : kGlobalExtent;
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

}  // namespace gex::ui
