#include "job.h"

#include <QByteArray>
#include <QThread>
#include <QtGlobal>

#include <atomic>
#include <exception>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "error_message.h"

namespace gex::ui {

namespace {
std::atomic<int> g_running{0};

// Background engine work yields to the GUI thread: a niceness of 10 for the job's thread, which
// the threads it starts (Torch's intra-op pool) inherit. Idle cores still go to the job in full;
// on a busy machine the window answers first. GEX_JOB_NICENESS (0–19) sets another: 0 where the
// jobs must not give way to other programs (the test suite, whose other tests run beside it).
int job_niceness() {
  const QByteArray value = qgetenv("GEX_JOB_NICENESS");
  if (value.isEmpty()) return 10;
  bool ok = false;
  const int n = value.toInt(&ok);
  if (ok && n >= 0 && n <= 19) return n;
  qWarning("GEX_JOB_NICENESS=%s is not a niceness from 0 to 19: background work runs at 10", value.constData());
  return 10;
}

void lower_priority() {
#ifdef __linux__
  setpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)), job_niceness());
#endif
}
}  // namespace

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
    lower_priority();  // jobs are background work; training runs as its own process
    QString error;
    try {
      if (!cancelled()) m_work(*this);  // cancelled before it started: nothing to do
    } catch (const std::exception& e) {
      error = QString::fromStdString(error_message(e));
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
