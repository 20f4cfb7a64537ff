// The step slider the analysis views share (issue 13): the probes (DESIGN §6) of the shown runs
// as one timeline, with play/pause and speed. While a run trains, the slider follows its newest
// probe unless the user has moved it back. Runs without probes offer "Compute probes", which runs
// `gex probe` on their kept checkpoints as a background process.
#pragma once

#include <QHash>
#include <QPointer>
#include <QString>
#include <QStringList>
#include <QWidget>

#include <vector>

#include "analysis/probe.h"
#include "file_stamp.h"

class QComboBox;
class QLabel;
class QProcess;
class QPushButton;
class QSlider;
class QTimer;
class QToolButton;

namespace gex::ui {

class RunCatalog;

class ProbeTimeline : public QWidget {
  Q_OBJECT

 public:
  ProbeTimeline(RunCatalog* catalog, QWidget* parent = nullptr);
  ~ProbeTimeline() override;

  void setRuns(const QStringList& paths);
  // Re-reads the runs' probes/index.csv (cheap: only files whose time changed are read again).
  void refresh();

  // Runs trained with other batch sizes probe at other steps: the Compare view lines them up by
  // epoch (the slider's positions are then the runs' probed epochs).
  void setAlignByEpoch(bool on);
  bool hasProbes() const { return !m_keys.empty(); }
  std::vector<int64_t> steps() const;  // every probed step of the runs, sorted (by step alignment)
  int64_t currentStep() const;  // -1 without probes (by epoch: the largest step at the slider's epoch)
  double currentEpoch() const;  // -1 without probes
  void setCurrentStep(int64_t step);  // the nearest probe at or before it
  bool following() const { return m_follow; }
  // The probes of a run, in step order.
  const std::vector<ProbeRecord>& records(const QString& run) const;
  // The run's probe directory at its last probe at or before `step`; empty when it has none.
  QString probeDir(const QString& run, int64_t step) const;
  // The run's probe directory at the slider's position (by step, or by epoch when aligned so).
  QString currentProbeDir(const QString& run) const;
  // Its probe at exactly the slider's position (step, or epoch); empty when it has none there. A
  // group's runs are pooled so: each run's last probe before it would pool a run still training
  // (or stopped early) at an earlier point of training with the others.
  QString exactProbeDir(const QString& run) const;
  QSlider* slider() const { return m_slider; }
  QToolButton* playButton() const { return m_play; }

 Q_SIGNALS:
  void stepChanged(qint64 step);
  void moved(qint64 step);  // the slider moved (by the user, play, or setCurrentStep), not by new probes
  void probesChanged();  // the set of probes grew or changed
  void message(const QString& text);

 private:
  void rebuild();
  void showStep();
  void togglePlay();
  void computeProbes();
  RunCatalog* m_catalog;
  QStringList m_runs;
  struct RunProbes {
    FileStamp stamp;  // index.csv's when read
    std::vector<ProbeRecord> records;
  };
  QHash<QString, RunProbes> m_probes;
  std::vector<double> m_keys;  // the slider's positions: probed steps, or epochs
  bool m_byEpoch = false;
  double currentKey() const;
  bool m_follow = true;  // at the newest probe: stay there as probes arrive
  QSlider* m_slider;
  QToolButton* m_play;
  QComboBox* m_speed;
  QLabel* m_label;
  QPushButton* m_compute;
  QTimer *m_playTimer, *m_poll;
  QPointer<QProcess> m_process;
};

}  // namespace gex::ui
