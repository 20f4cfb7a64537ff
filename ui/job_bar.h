// The top row of an analysis view: how many test images to use, Compute, Cancel, a progress bar
// and a status line, and the jobs in flight (one per output file, never two for the same file).
#pragma once

#include <QList>
#include <QPointer>
#include <QWidget>

class QHBoxLayout;
class QLabel;
class QProgressBar;
class QSpinBox;

namespace gex::ui {

class Job;

class JobBar : public QWidget {
  Q_OBJECT

 public:
  // `settingsKey` remembers the image count; empty: no count and no Compute button.
  JobBar(const QString& settingsKey, int defaultLimit, QWidget* parent = nullptr);
  ~JobBar() override;

  int limit() const;
  void setLimit(int images);
  QHBoxLayout* controls() const { return m_controls; }  // for the view's own controls
  bool isBusy() const { return !m_jobs.isEmpty(); }
  bool isQueued(const QString& key) const;
  // Queued, or failed since the last Compute: nothing to start for it.
  bool isHandled(const QString& key) const { return isQueued(key) || m_failed.contains(key); }
  // Starts `job` (owned here from now on) under `key`.
  void run(Job* job, const QString& key);
  void setStatus(const QString& text);

 Q_SIGNALS:
  void computeRequested();
  // isBusy() is false after the last one. A key that failed is not run again until Compute.
  void jobFinished(bool ok, const QString& error);

 private:
  QHBoxLayout* m_controls;
  QSpinBox* m_limit = nullptr;
  QProgressBar* m_progress;
  QLabel* m_status;
  QList<QPointer<Job>> m_jobs;
  QStringList m_failed;
};

}  // namespace gex::ui
