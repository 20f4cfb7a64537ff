// A training run started from the application: `gex train … --progress json` as a child process,
// the same program and run directory as on the command line (DESIGN §3). In its own process the
// training keeps the cores to itself as `gex train` does (no GUI thread inside its OpenMP team),
// a crash in it cannot take the window down, and the window follows it as it follows any live run.
// Pause stops the process (SIGSTOP) between two instructions and continues it (SIGCONT); Stop
// asks it to save `last` and exit (SIGTERM, as Ctrl+C on the command line).
#pragma once

#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>

#include "job.h"
#include "train/train_config.h"
#include "train/trainer.h"

namespace gex::ui {

// The `gex train` arguments of a new run with every setting of `config`, and of a resume.
// With `processes` > 1, a data-parallel job of that many local processes (`--nproc`), each on its
// share of config.threads.
QStringList train_arguments(const TrainConfig& config, const QString& runDir, int processes = 1);
// `movedData`: the run's data set at a new place (--data), where it is not where it was recorded.
QStringList resume_arguments(const QString& runDir, int processes = 1, const QString& movedData = {});
// `gex study` with the settings of `config` but its attention: every variant (baseline, se,
// theta-minus, theta, theta-plus; GE ones at config's extent) with seeds 1 … `seeds`, into `dir`.
QStringList study_arguments(const TrainConfig& config, const QStringList& variants, int seeds, const QString& dir,
                            int processes = 1);
// The `gex` beside the running executable (installed or in the build tree).
QString gex_program();

class TrainProcess : public QObject {
  Q_OBJECT

 public:
  explicit TrainProcess(QObject* parent = nullptr);
  // Stops a running training (it saves `last`) and waits for it.
  ~TrainProcess() override;

  void start(const QStringList& arguments);
  void setPaused(bool paused);
  void stop();
  bool isRunning() const { return m_process.state() != QProcess::NotRunning; }
  bool isPaused() const { return m_paused; }

 Q_SIGNALS:
  void progress(const gex::TrainProgress& progress);
  void evaluated(const gex::EvalReport& report);
  void message(const QString& text);
  // A study moved on to this run's folder.
  void runStarted(const QString& dir);
  // `error` is gex's own message (it names the file) when the outcome is kFailed.
  void finished(gex::ui::JobOutcome outcome, const QString& error);

 private:
  void readLines();
  void handleLine(const QByteArray& line);
  void onFinished(int exitCode, QProcess::ExitStatus status);
  void onError(QProcess::ProcessError error);

  QProcess m_process;
  QByteArray m_pending;   // stderr bytes after the last full line
  QString m_lastError;    // gex's error message if it fails: its first error line, else its last human line
  bool m_errorSaid = false;  // an error line came
  bool m_paused = false;
  bool m_stopping = false;
};

}  // namespace gex::ui
