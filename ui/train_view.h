// The Train view: the form (TrainForm) for the model, the data and the schedule, Start / Pause /
// Stop / Resume, a progress line with images/s and ETA, and live loss and error curves. Training runs as a `gex train` process (TrainProcess) that writes the
// same run directory as on the command line.
#pragma once

#include <QPointer>
#include <QTimer>
#include <QWidget>

#include <deque>
#include <optional>
#include <vector>

#include "message_bar.h"
#include "train/train_config.h"

class QGridLayout;
class QLabel;
class QProgressBar;
class QPushButton;

#include "train/trainer.h"

namespace gex::ui {

class CurvePlot;
class TrainProcess;
class ModelInfoCache;
class RunCatalog;
struct RunRecord;
class TrainForm;

class TrainView : public QWidget {
  Q_OBJECT

 public:
  TrainView(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent = nullptr);
  ~TrainView() override;

  TrainConfig config() const;  // the form
  void setConfig(const TrainConfig& config);
  // Starts a new run under the runs folder (or `dir`); false with a message when one is running.
  bool start(const QString& dir = {});
  bool startConfig(const TrainConfig& config, const QString& dir = {});
  // `gex study` of the form's settings: each of `variants` (gex study's names) with seeds 1 … K
  // into `dir`; false with a message when a run is training.
  bool startStudy(const QStringList& variants, int seeds, const QString& dir);
  void chooseStudy();  // "Start study…": asks, then startStudy
  bool resume(const QString& runDir);
  void setPaused(bool paused);
  void stop();
  bool isTraining() const;
  bool isBusy() const { return isTraining(); }
  void setSelectedRun(const QString& path) { m_selectedRun = path; }
  QString currentRun() const { return m_runDir; }
  CurvePlot* lossPlot() const { return m_loss; }
  CurvePlot* errorPlot() const { return m_error; }
  QString progressText() const;
  QString complexityText() const;
  // Why the form saved last time could not be restored (empty when it was, or there was none).
  const QString& restoreProblem() const;

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);
  void runStarted(const QString& dir);
  void runFinished(const QString& dir, bool ok);
  // While a run trains: the fraction done; −1 when training stops.
  void progressChanged(double fraction, const QString& run);

 private:
  QGridLayout* buildButtons();
  QWidget* buildProgressAndPlots();
  void connectButtons();
  void launch(const QString& dir, const TrainConfig& config, bool resuming, const QString& movedData = {});
  // A run's data folder that is not where the run recorded it: asked where it is now. "" when it
  // is in place; nullopt when the user did not say.
  std::optional<QString> movedDataOf(const RunRecord& run);
  void startProcess(const QStringList& arguments, const QString& dir);
  void followRun(const QString& dir, bool resuming);  // the plots show this run from now on
  void onProgress(const TrainProgress& p);
  void showProgress();  // what arrived since the last time, at most twice a second
  void onFinished(const QString& dir, int outcome, const QString& error);
  void updateButtons();
  QString newRunDirectory(const TrainConfig& config) const;
  RunCatalog* m_catalog;
  TrainForm* m_form;
  QLabel* m_progressLabel;
  QProgressBar* m_progress;
  QPushButton *m_start, *m_study, *m_pause, *m_stop, *m_resume;
  CurvePlot *m_loss, *m_error;
  QPointer<TrainProcess> m_process;
  // Progress arrives up to ten times a second; the widgets follow twice a second, so that the
  // window's repaints take as little as possible from the training's cores.
  std::optional<TrainProgress> m_latest;
  std::vector<double> m_lossSteps, m_losses;
  QTimer m_progressTimer;
  QString m_runDir, m_selectedRun;
  QString m_studyDir;  // the study being trained, if it is one
  // A resumed run's curves begin with the rows it wrote before the step it continues from, read
  // when its first new step or evaluation arrives: the rows past its checkpoint (a killed run's)
  // are dropped by the trainer as it starts, and were drawn, a second curve back over the first.
  void drawEarlierRows(int64_t firstNewStep);
  QString m_earlierRowsOf;  // the resumed run whose earlier rows are still to be drawn
  // Where the study stands: the run being trained, counted as the study announces its runs (the
  // finished ones too), of the plan's variants × seeds (study.json, which may hold more than the
  // dialog asked for when it continues an earlier study).
  int m_studyRun = 0, m_studyRuns = 0;
  // The run being trained, as the title and the status bar name it ("study-…, run 3 of 8
  // (theta/seed-1)"); without the study's name in the view's own progress line.
  QString runLabel(bool withStudy = true) const;
};

}  // namespace gex::ui
