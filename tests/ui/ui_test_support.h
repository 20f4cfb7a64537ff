// Shared by the offscreen UI tests: waiting on the event loop, the application fixture, shipped
// runs and samples, and small file helpers.
#pragma once

#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QMessageBox>
#include <QSettings>
#include <QTemporaryDir>
#include <QTimer>

#include <functional>
#include <memory>

#include "main_window.h"

namespace gex::ui::test {

// Runs the event loop until `done` or `ms` pass; returns done().
// Sleeps in the event loop between checks: a busy loop here would steal a core from the
// worker threads under test.
inline bool wait_until(const std::function<bool()>& done, int ms = 60000) {
  QElapsedTimer t;
  t.start();
  QTimer tick;
  tick.start(20);
  while (!done() && t.elapsed() < ms) QApplication::processEvents(QEventLoop::WaitForMoreEvents);
  return done();
}

inline void settle(int ms) { wait_until([] { return false; }, ms); }

inline QString shipped(const QString& name) {
  return QFileInfo(MainWindow::resourceDirectory() + QStringLiteral("/default-runs/") + name).canonicalFilePath();
}
inline QString sample(const QString& name) { return MainWindow::resourceDirectory() + QStringLiteral("/samples/") + name; }

inline void write_text(const QString& path, const QByteArray& text) {
  QDir().mkpath(QFileInfo(path).absolutePath());
  QFile f(path);
  ASSERT_TRUE(f.open(QIODevice::WriteOnly | QIODevice::Truncate));
  f.write(text);
}

inline QByteArray read_text(const QString& path) {
  QFile f(path);
  return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Answers the next modal question (QMessageBox) with `button` once it shows.
inline void answer_next_question(QMessageBox::StandardButton button) {
  auto* timer = new QTimer;
  QObject::connect(timer, &QTimer::timeout, timer, [timer, button] {
    if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
      box->button(button)->click();
      timer->deleteLater();
    }
  });
  timer->start(50);
}

// A main window on a scratch runs folder, shown offscreen; settings start empty.
class App : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(runs.isValid());
    ASSERT_FALSE(MainWindow::resourceDirectory().isEmpty());
    QSettings().clear();
    window = std::make_unique<MainWindow>(runs.path());
    window->show();
  }
  void TearDown() override {
    if (window) wait_until([&] { return !window->isBusy(); }, 120000);
    window.reset();
    QSettings().clear();
  }
  QTemporaryDir runs;
  std::unique_ptr<MainWindow> window;
};

}  // namespace gex::ui::test
