// The Gates view: the excite gates of a model over the user's images (open or drop any format the
// engine decodes), per layer, as the channel mean or one channel, with colour map, opacity,
// normalisation scope and colour bar; the exact preprocessed input beside it; the top-5 classes;
// a second model side by side (layer linked by depth) and their difference.
#pragma once

#include <QImage>
#include <QPointer>
#include <QStringList>
#include <QWidget>

#include <memory>
#include <vector>

#include "gate_overlay.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QListWidget;
class QSlider;
class QSpinBox;

namespace gex::ui {

class Job;
class RunCatalog;

// One image through one model, as plain data: the input as the model saw it, every gate layer
// (C maps each) and the top-5 classes.
struct GateResult {
  QString model;                         // checkpoint path
  QImage input;                          // S×S, what the network was fed (before normalisation)
  QStringList layers;                    // module paths in depth order
  std::vector<std::vector<GateMap>> maps;  // [layer][channel]
  QStringList top5;                      // "class 93.1 %"
};

class GatesView : public QWidget {
  Q_OBJECT

 public:
  GatesView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~GatesView() override;

  void addImages(const QStringList& files);
  void setModel(const QString& checkpoint, int side = 0);  // side 0: A, 1: B (empty: none)
  void setLayer(int index);
  void setChannel(int channel);  // −1: the channel mean
  bool isBusy() const;
  // What is on screen, for tests: the overlay of side 0/1 (2: the difference) and its map.
  QImage overlay(int panel) const { return m_overlays[panel]; }
  GateMap shownMap(int panel) const { return m_shown[panel]; }
  const GateResult* result(int side) const;

 Q_SIGNALS:
  void message(const QString& text);

 protected:
  void dragEnterEvent(class QDragEnterEvent* e) override;
  void dropEvent(class QDropEvent* e) override;

 private:
  void refreshModels();
  void compute();
  void redraw();
  void fillChannelGrid(int layer, double opacity);
  QString modelAt(int side) const;
  RunCatalog* m_catalog;
  QComboBox *m_modelA, *m_modelB, *m_layer, *m_colormap, *m_scope;
  QListWidget* m_images;
  QListWidget* m_channels;  // every channel of model A's layer as a thumbnail; click to pick
  QSpinBox* m_channel;
  QSlider* m_opacity;
  QCheckBox* m_difference;
  QLabel *m_input, *m_panels[3], *m_captions[3], *m_top5[2];
  ColorBar* m_bar;
  QPointer<Job> m_job;
  bool m_pending = false;
  std::shared_ptr<struct GateModels> m_models;  // loaded checkpoints, used by the job only
  std::unique_ptr<GateResult> m_results[2];
  QImage m_overlays[3];
  GateMap m_shown[3];
};

}  // namespace gex::ui
