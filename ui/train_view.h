// The Train view: a form for the model, the data and the schedule (with the parameter and MAC
// count as it changes), Start / Pause / Stop / Resume, a progress line with images/s and ETA, and
// live loss and error curves. Training runs in a Job; the run directory is the same as gex train's.
#pragma once

#include <QPointer>
#include <QWidget>

#include <deque>
#include <memory>

#include "train/train_config.h"

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace gex {
struct TrainControl;
struct TrainProgress;
}

namespace gex::ui {

class CurvePlot;
class Job;
class RunCatalog;

class TrainView : public QWidget {
  Q_OBJECT

 public:
  TrainView(RunCatalog* catalog, QWidget* parent = nullptr);
  ~TrainView() override;

  TrainConfig config() const;  // the form
  void setConfig(const TrainConfig& config);
  // Starts a new run under the runs folder (or `dir`); false with a message when one is running.
  bool start(const QString& dir = {});
  bool startConfig(const TrainConfig& config, const QString& dir = {});
  void startPair();  // the baseline, then GE with the same settings
  bool resume(const QString& runDir);
  void setPaused(bool paused);
  void stop();
  bool isTraining() const;
  void setSelectedRun(const QString& path) { m_selectedRun = path; }
  QString currentRun() const { return m_runDir; }
  CurvePlot* lossPlot() const { return m_loss; }
  CurvePlot* errorPlot() const { return m_error; }
  QString progressText() const;

 Q_SIGNALS:
  void message(const QString& text);
  void runStarted(const QString& dir);
  void runFinished(const QString& dir, bool ok);

 private:
  void launch(const QString& dir, const TrainConfig& config, bool resuming);
  void onProgress(const TrainProgress& p);
  void updateComplexity();
  void updateButtons();
  QString newRunDirectory(const TrainConfig& config) const;
  RunCatalog* m_catalog;
  QComboBox *m_backbone, *m_attention, *m_variant, *m_extent, *m_pool, *m_schedule, *m_device;
  QLineEdit* m_data;
  QSpinBox *m_epochs, *m_steps, *m_batch, *m_seed, *m_threads;
  QDoubleSpinBox *m_lr, *m_wd;
  QLabel *m_complexity, *m_progressLabel;
  QProgressBar* m_progress;
  QPushButton *m_start, *m_pair, *m_pause, *m_stop, *m_resume;
  CurvePlot *m_loss, *m_error;
  QPointer<Job> m_job;
  QPointer<Job> m_complexityJob;
  std::shared_ptr<TrainControl> m_control;
  QString m_runDir, m_selectedRun;
  std::deque<TrainConfig> m_queue;  // "Train baseline and GE": the runs still to start
};

}  // namespace gex::ui
