#include "job.h"

#include <QThread>

#include <atomic>
#include <exception>

namespace gex::ui {

namespace {
std::atomic<int> g_running{0};
}

Job::Job(QString title, Work work, QObject* parent)
    : QObject(parent), m_title(std::move(title)), m_work(std::move(work)) {}

Job::~Job() {
  cancel();
  if (m_thread) {
    m_thread->wait();
    delete m_thread;
  }
  if (m_running) --g_running;
}

int Job::running() { return g_running.load(); }

void Job::start() {
  if (m_running || m_thread) return;
  m_running = true;
  ++g_running;
  m_thread = QThread::create([this] {
    QString error;
    try {
      m_work(*this);
    } catch (const std::exception& e) {
      error = QString::fromStdString(e.what());
    } catch (...) {
      error = tr("unknown error");
    }
    const JobOutcome outcome = !error.isEmpty()  ? JobOutcome::kFailed
                               : cancelled()     ? JobOutcome::kCancelled
                                                 : JobOutcome::kDone;
    // Delivered on the GUI thread after everything the work posted.
    QMetaObject::invokeMethod(this, [this, outcome, error] {
      m_running = false;
      --g_running;
      Q_EMIT finished(outcome, error);
    }, Qt::QueuedConnection);
  });
  m_thread->setObjectName(m_title);
  m_thread->start();
}

void Job::reportProgress(double fraction, const QString& text) { Q_EMIT progress(fraction, text); }

void Job::post(std::function<void()> toGuiThread) {
  QMetaObject::invokeMethod(this, std::move(toGuiThread), Qt::QueuedConnection);
}

}  // namespace gex::ui
