// Shared by the offscreen UI tests: waiting on the event loop, the application fixture, shipped
// runs and samples, and small file helpers.
#pragma once

#include <gtest/gtest.h>

#include <QAbstractButton>
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
#include "run_catalog.h"

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

// A run of the shipped study: `variant` (baseline, theta-minus, theta-e4, theta-plus), seed 1.
inline QString shipped(const QString& variant) {
  return QFileInfo(MainWindow::resourceDirectory() + QStringLiteral("/default-runs/resnet20-fashion-mnist-study/") +
                   variant + QStringLiteral("/seed-1")).canonicalFilePath();
}
// The catalog's groups of studies other than the shipped one (those the test wrote).
inline std::vector<RunGroup> user_groups(const RunCatalog& catalog) {
  std::vector<RunGroup> mine;
  for (const RunGroup& g : catalog.groups())
    if (!g.shipped) mine.push_back(g);
  return mine;
}
// A short synthetic run, as the Train form would start it.
inline TrainConfig synthetic_config(int64_t steps) {
  TrainConfig c;
  c.model.attention = AttentionKind::kGE;
  c.data = "synthetic";
  c.steps = steps;
  c.batch = 32;
  c.threads = 2;
  c.eval_limit = 100;
  return c;
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
  // A run in the runs folder made of a shipped run's run.json, metrics.csv and best checkpoint
  // (without its probes); not yet scanned.
  QString copyOfShipped(const QString& variant, const QString& name) {
    const QString run = runs.path() + QLatin1Char('/') + name;
    QDir().mkpath(run + QStringLiteral("/checkpoints"));
    for (const char* file : {"run.json", "metrics.csv", "checkpoints/best.safetensors"})
      EXPECT_TRUE(QFile::copy(shipped(variant) + QLatin1Char('/') + QLatin1String(file),
                              run + QLatin1Char('/') + QLatin1String(file)))
          << file;
    return QFileInfo(run).canonicalFilePath();
  }
  // The same, scanned: its canonical path, as the catalog knows it.
  QString scannedCopyOfShipped(const QString& variant) {
    const QString run = copyOfShipped(variant, variant);
    window->catalog()->rescan();
    return run;
  }
  QTemporaryDir runs;
  std::unique_ptr<MainWindow> window;
};

}  // namespace gex::ui::test
