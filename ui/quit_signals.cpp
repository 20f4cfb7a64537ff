#include "quit_signals.h"

#include <QSocketNotifier>

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gex::ui {

namespace {

constexpr int kQuitSignals[] = {SIGTERM, SIGINT, SIGHUP};
int g_quit_pipe[2] = {-1, -1};  // the handler writes the signal's number to [0]; the event loop reads [1]

// Only async-signal-safe calls: a byte down the socket, and the default back for the next one.
void on_quit_signal(int sig) {
  const int saved = errno;
  const unsigned char byte = static_cast<unsigned char>(sig);
  [[maybe_unused]] const auto written = ::write(g_quit_pipe[0], &byte, 1);
  std::signal(sig, SIG_DFL);
  errno = saved;
}

}  // namespace

QuitSignals::QuitSignals(QObject* parent) : QObject(parent) {
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, g_quit_pipe) != 0) return;  // then the defaults stay
  ::fcntl(g_quit_pipe[0], F_SETFL, O_NONBLOCK);
  m_notifier = new QSocketNotifier(g_quit_pipe[1], QSocketNotifier::Read, this);
  connect(m_notifier, &QSocketNotifier::activated, this, &QuitSignals::readSignal);
  struct sigaction action {};
  action.sa_handler = on_quit_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  for (int sig : kQuitSignals) {
    struct sigaction before {};
    ::sigaction(sig, nullptr, &before);
    if (sig == SIGHUP && before.sa_handler == SIG_IGN) continue;  // nohup's promise is kept
    ::sigaction(sig, &action, nullptr);
    m_installed.push_back(sig);
  }
}

QuitSignals::~QuitSignals() {
  for (int sig : m_installed) std::signal(sig, SIG_DFL);
  if (g_quit_pipe[0] < 0) return;
  ::close(g_quit_pipe[0]);
  ::close(g_quit_pipe[1]);
  g_quit_pipe[0] = g_quit_pipe[1] = -1;
}

void QuitSignals::readSignal() {
  unsigned char byte = 0;
  if (::read(g_quit_pipe[1], &byte, 1) == 1) Q_EMIT received(int(byte));
}

}  // namespace gex::ui
