// One piece of long engine work (training, an analysis, gate maps) on its own thread (DESIGN §7).
// The work is a plain function; it reports progress and hands results to the GUI thread through
// the job. The job owns the one cancel/pause token the engine reads between batches, and ends
// with an outcome: done, cancelled, or failed with the engine's message. Destroying a job cancels
// it and waits, so a job is deleted (deleteLater) only once it has finished.
#pragma once

#include <QObject>
#include <QString>

#include <functional>

#include "control.h"

class QThread;

namespace gex::ui {

enum class JobOutcome { kDone, kCancelled, kFailed };

class Job : public QObject {
  Q_OBJECT

 public:
  using Work = std::function<void(Job&)>;
  Job(QString title, Work work, QObject* parent = nullptr);
  ~Job() override;

  void start();
  void cancel() { m_control.cancel(); }
  void setPaused(bool paused) { m_control.set_paused(paused); }
  bool isRunning() const { return m_running; }
  const QString& title() const { return m_title; }

  // For the work, on its thread: the token to hand to the engine.
  WorkControl& control() { return m_control; }
  bool cancelled() const { return m_control.cancelled(); }
  void reportProgress(double fraction, const QString& text);  // fraction < 0: unknown
  void post(std::function<void()> toGuiThread);              // runs on the GUI thread, in order

  // Jobs running in the whole application (the screenshot waits for none).
  static int running();

 Q_SIGNALS:
  void progress(double fraction, const QString& text);
  // After everything the work posted. `error` is the engine's message (it names the file) when
  // the outcome is kFailed.
  void finished(gex::ui::JobOutcome outcome, const QString& error);

 private:
  QString m_title;
  Work m_work;
  QThread* m_thread = nullptr;
  WorkControl m_control;
  bool m_running = false;
};

}  // namespace gex::ui
