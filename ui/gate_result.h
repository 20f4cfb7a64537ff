// The gates of one image through one model as the Gates view shows them: plain Qt data (the
// input as a QImage, each layer's channels as GateMaps, the top-5 classes), and the maps it derives
// (the channel mean, A − B).
#pragma once

#include <QImage>
#include <QString>
#include <QStringList>

#include <vector>

#include <torch/types.h>

#include "gate_overlay.h"

namespace gex {
struct GateInspection;
struct ModelSpec;
}  // namespace gex

namespace gex::ui {

// One image through one model, as plain data: the input as the model saw it, every gate layer
// (C maps each) and the top-5 classes.
struct GateResult {
  QString model;                           // checkpoint path
  QImage input;                            // S×S, what the network was fed (before normalisation)
  QStringList layers;                      // module paths in depth order
  std::vector<std::vector<GateMap>> maps;  // [layer][channel]
  QStringList top5;                        // "class 93.1 %"
  int extent = 0;                          // the model's GE extent (0: global, or SE)
};

// A C×H×W uint8 image (one or three channels) as a QImage.
QImage to_qimage(const torch::Tensor& pixels);

// The engine's inspection of an image as a GateResult for `model` (a checkpoint path).
GateResult gate_result(const QString& model, const GateInspection& inspection, const ModelSpec& spec);
// The mean over a layer's channels.
GateMap channel_mean(const std::vector<GateMap>& channels);
// a − b on a grid fine enough for both (nearest sampling, as the gates are applied).
GateMap difference(const GateMap& a, const GateMap& b);

}  // namespace gex::ui
