// One piece of long engine work (training, an analysis, gate maps) on its own thread (DESIGN §6).
// The work is a plain function; it reports progress and hands results to the GUI thread through
// the job, and checks cancelled() between batches. Destroying a job cancels it and waits.
#pragma once

#include <QObject>
#include <QString>

#include <atomic>
#include <functional>

class QThread;

namespace gex::ui {

class Job : public QObject {
  Q_OBJECT

 public:
  using Work = std::function<void(Job&)>;
  Job(QString title, Work work, QObject* parent = nullptr);
  ~Job() override;

  void start();
  void cancel() { m_cancel = true; }
  bool isRunning() const { return m_running; }

  // For the work, on its thread.
  bool cancelled() const { return m_cancel.load(); }
  const std::atomic<bool>* cancelFlag() const { return &m_cancel; }
  void reportProgress(double fraction, const QString& text);  // fraction < 0: unknown
  void post(std::function<void()> toGuiThread);              // runs on the GUI thread, in order

  // Jobs running in the whole application (the screenshot waits for none).
  static int running();

 Q_SIGNALS:
  void progress(double fraction, const QString& text);
  // ok false: `error` is the engine's message (it names the file); a cancelled job is ok.
  void finished(bool ok, const QString& error);

 private:
  QString m_title;
  Work m_work;
  QThread* m_thread = nullptr;
  std::atomic<bool> m_cancel{false};
  bool m_running = false;
};

}  // namespace gex::ui
