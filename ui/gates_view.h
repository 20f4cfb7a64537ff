// The Gates view: the excite gates of a model over the user's images (open them, or drop them on
// the window), per layer, as the channel mean or one channel, with colour map, opacity, a scale
// fixed to [0, 1] or per map, and a colour bar per panel; the exact preprocessed input beside it;
// the top-5 classes; a second model side by side (layer linked by depth) and their difference on
// a diverging, symmetric scale; every channel of the layer as thumbnails; and the gate through
// training, one thumbnail per probe of model A's run (GateFilmstrip).
#pragma once

#include <QImage>
#include <QPointer>
#include <QStringList>
#include <QWidget>

#include "train/import_weights.h"

#include <memory>
#include <vector>

#include "gate_overlay.h"
#include "gate_result.h"
#include "message_bar.h"

class QCheckBox;
class QComboBox;
class QLabel;
class QListWidget;
class QScrollArea;
class QSlider;
class QSpinBox;

namespace gex::ui {

class GateFilmstrip;
class Job;
class JobBar;
class RunCatalog;

class GatesView : public QWidget {
  Q_OBJECT

 public:
  GatesView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~GatesView() override;

  // Adds the images not in the list yet (by their canonical path) and shows the first of them.
  void addImages(const QStringList& files);
  QStringList images() const;
  QString modelAt(int side) const;  // the checkpoint shown as A (0) or B (1)
  QString hint() const;             // the text in place of the input image, when there is one
  void setModel(const QString& checkpoint, int side = 0);  // side 0: A, 1: B (empty: none)
  // `gex import` as a job of this view (progress and Cancel in its bar); the checkpoint is then
  // shown as model A and a message says what was loaded, created and left out.
  void importWeights(const ImportOptions& options, const QString& out);
  void setLayer(int index);
  void setChannel(int channel);  // −1: the channel mean
  void setDifference(bool on);
  void setPerMapScale(bool on);
  void setSmooth(bool on);
  bool isBusy() const;
  // What is on screen, for tests: the overlay of side 0/1 (2: the difference), its map, the
  // range of its colour bar and its caption.
  QImage overlay(int panel) const { return m_overlays[panel]; }
  GateMap shownMap(int panel) const { return m_shown[panel]; }
  const ColorBar* colorBar(int panel) const { return m_bars[panel]; }
  QString caption(int panel) const;
  QString top5(int side) const;  // the predictions under panel A or B
  const GateResult* result(int side) const;
  JobBar* jobBar() const { return m_jobs; }
  GateFilmstrip* filmstrip() const { return m_filmstrip; }

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);

 protected:
  void showEvent(QShowEvent* e) override;
  bool eventFilter(QObject* watched, QEvent* e) override;

 private:
  QWidget* buildControls();
  QWidget* buildPanels();
  void refreshModels();
  void compute();
  static QString requestKey(const QString& image, const QString& a, const QString& b);
  void redraw();
  int panelSide() const;  // the panels' side that fits the room they have
  void fillChannelGrid(int layer, double opacity);
  RunCatalog* m_catalog;
  QComboBox *m_modelA, *m_modelB, *m_layer, *m_colormap, *m_scope;
  QComboBox* m_upsampling = nullptr;
  QListWidget* m_images;
  QListWidget* m_channels;  // every channel of model A's layer as a thumbnail; click to pick
  QSpinBox* m_channel;
  QSlider* m_opacity;
  QCheckBox* m_difference;
  QLabel *m_input, *m_panels[3], *m_captions[3], *m_top5[2];
  ColorBar* m_bars[3];
  QScrollArea* m_panelArea = nullptr;
  int m_side = 0;  // the panels' side on screen, in device-independent pixels
  JobBar* m_jobs;
  GateFilmstrip* m_filmstrip = nullptr;
  QPointer<Job> m_job;
  bool m_pending = false;
  // The request (image, models and their modification times) whose gates or error are on screen:
  // asking again for the same thing (a rescan of the runs folder) neither recomputes nor repeats an error.
  QString m_shownRequest;
  QString m_failure;  // why the last request has no gates (the image or checkpoint named); empty once one has
  std::shared_ptr<struct GateModels> m_models;  // loaded checkpoints, used by the job only
  std::unique_ptr<GateResult> m_results[2];
  QImage m_overlays[3];
  GateMap m_shown[3];
  bool m_watchingScreen = false;
};

}  // namespace gex::ui
