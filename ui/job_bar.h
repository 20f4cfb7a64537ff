// The top row of a view that runs engine work: how many test images to use and Compute (when the
// view has a setting for them), Cancel (enabled only while something runs; Esc in the view does
// the same), a progress bar and a status line for the jobs it tracks.
#pragma once

#include <QList>
#include <QPointer>
#include <QWidget>

#include "job.h"

class QLabel;
class QProgressBar;
class QPushButton;
class QSpinBox;

namespace gex::ui {

class FlowLayout;

class JobBar : public QWidget {
  Q_OBJECT

 public:
  // `settingsKey` remembers the image count; empty: no count and no Compute button.
  JobBar(const QString& settingsKey, int defaultLimit, QWidget* parent = nullptr);

  int limit() const;
  void setLimit(int images);
  // The view's own controls, left of the count, Compute and Cancel, in order; they wrap onto
  // further rows where the window is narrow. With a label: the two kept together.
  void addControl(QWidget* widget);
  void addControl(const QString& label, QWidget* widget);
  bool isBusy() const { return !m_jobs.isEmpty(); }
  // Shows the job's progress until it ends; Cancel cancels every tracked job.
  void track(Job* job);
  void cancel();
  void setStatus(const QString& text);
  QString status() const;
  QPushButton* cancelButton() const { return m_cancel; }

 Q_SIGNALS:
  void computeRequested();
  void cancelRequested();  // before the tracked jobs are cancelled (a store stops its own)

 private:
  void updateState();
  FlowLayout* m_controls;
  QSpinBox* m_limit = nullptr;
  QPushButton* m_cancel;
  QProgressBar* m_progress;
  QLabel* m_status;
  QList<QPointer<Job>> m_jobs;
};

}  // namespace gex::ui
