// The Gates view's "through training" strip (issue 13): the gate of one probe image, layer and
// channel at every probe of model A's run, one thumbnail per probe, and the animation exported as
// a PNG sequence and a Motion-JPEG AVI.
#pragma once

#include <QHash>
#include <QImage>
#include <QString>
#include <QWidget>

#include <vector>

#include "file_stamp.h"
#include "gate_overlay.h"
#include "message_bar.h"

class QComboBox;
class QLabel;
class QListWidget;
class QPushButton;

namespace gex::ui {

class GateFilmstrip : public QWidget {
  Q_OBJECT

 public:
  explicit GateFilmstrip(QWidget* parent = nullptr);

  // The run whose probes are shown (empty: none).
  void setRun(const QString& run);
  // What each frame shows: the attention module (its path; empty: the first), a channel (−1: the
  // mean over channels), the colour map and the opacity of the gate over the image.
  void setView(const QString& layer, int channel, const QString& colormap, double opacity);
  void refresh();  // re-reads the run's probes (a run still training grows)
  void setCurrentStep(int64_t step);  // selects the frame of the last probe at or before it

  struct Frame {
    int64_t step = 0;
    double epoch = 0;
    QImage input;  // the probe image as the model saw it, before normalisation
    GateMap map;   // the shown channel (or mean) of the layer's gate, as written by the probe
  };
  const std::vector<Frame>& frames() const { return m_frames; }
  QListWidget* strip() const { return m_strip; }
  QComboBox* imageBox() const { return m_image; }
  // DIR/<image>-<layer>-0000.png … one per probe, and DIR/<image>-<layer>.avi; the files written.
  // A gex::Error names a file that cannot be written.
  QStringList exportAnimation(const QString& dir) const;

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);

 private:
  void listImages();
  void load();
  void draw();
  QImage frameImage(const Frame& f, int side) const;  // overlay with a step caption below
  QString m_run, m_layer, m_colormap = QStringLiteral("viridis");
  int m_channel = -1;
  double m_opacity = 0.6;
  FileStamp m_indexStamp;  // probes/index.csv's when read
  std::vector<Frame> m_frames;
  QComboBox* m_image;
  QPushButton* m_export;
  QLabel* m_status;
  QListWidget* m_strip;
};

}  // namespace gex::ui
