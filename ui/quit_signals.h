// SIGTERM, SIGINT and SIGHUP (a session logging out, `kill`, Ctrl+C in the terminal that started
// the application, the terminal closing) as a Qt signal, so that the window quits as File → Quit
// does — a training run saves `last` and stops — instead of dying with it unsaved. A second such
// signal while the first is handled ends the program at once (the signal's default). Under nohup
// (SIGHUP ignored when it starts) a hangup stays ignored.
#pragma once

#include <QObject>

#include <vector>

class QSocketNotifier;

namespace gex::ui {

class QuitSignals : public QObject {
  Q_OBJECT

 public:
  // Installs the handlers; one instance per program.
  explicit QuitSignals(QObject* parent = nullptr);
  ~QuitSignals() override;

 Q_SIGNALS:
  void received(int signal);

 private:
  void readSignal();
  QSocketNotifier* m_notifier = nullptr;
  std::vector<int> m_installed;  // the signals handled here
};

}  // namespace gex::ui
