// `ge-explorer --screenshot` as documentation and scripts use it: a PNG of the view, exit codes.
#include <gtest/gtest.h>

#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>

#include <csignal>

#include "plot_style.h"
#include "ui_test_support.h"

namespace {

// Qt's offscreen platform, a machine with no display at all, or a DISPLAY that does not answer.
enum class Screen { kOffscreen, kNone, kUnreachable };
const char* const kDeadDisplay = ":4711";

int run(const QStringList& args, const QTemporaryDir& home, QString* err = nullptr, Screen screen = Screen::kOffscreen,
        QString* out = nullptr) {
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  for (const char* v : {"QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"}) env.remove(QLatin1String(v));
  if (screen == Screen::kOffscreen) env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  if (screen == Screen::kUnreachable) env.insert(QStringLiteral("DISPLAY"), QLatin1String(kDeadDisplay));
  for (const char* v : {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"}) env.insert(QLatin1String(v), home.path());
  p.setProcessEnvironment(env);
  p.start(QStringLiteral(GE_EXPLORER_BINARY), args);
  if (!p.waitForFinished(300000)) return -1;
  if (err) *err = QString::fromUtf8(p.readAllStandardError());
  if (out) *out = QString::fromUtf8(p.readAllStandardOutput());
  return p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -2;  // -2: it crashed (Qt aborts without a display)
}

// Pixels of exactly this colour in the image.
int count(const QImage& image, const QColor& colour) {
  int n = 0;
  for (int y = 0; y < image.height(); ++y)
    for (int x = 0; x < image.width(); ++x) n += image.pixelColor(x, y) == colour;
  return n;
}

TEST(Screenshot, WritesTheViewWithTheShippedRunsCurves) {
  QTemporaryDir home;
  const QString out = home.filePath(QStringLiteral("curves.png"));
  ASSERT_EQ(run({QStringLiteral("--view"), QStringLiteral("curves"), QStringLiteral("--screenshot"), out}, home), 0);
  const QImage image(out);
  ASSERT_FALSE(image.isNull());
  EXPECT_GE(image.width(), 700);
  // The four shipped runs are checked on first start: each one's colour is drawn.
  for (int i = 0; i < 4; ++i) EXPECT_GT(count(image, gex::ui::run_color(i)), 30) << "run colour " << i;
}

TEST(Screenshot, PositionalFilesOpenAndATimeoutWritesNothing) {
  QTemporaryDir home;
  // An image given as a plain argument (as the desktop file's %F passes it) goes to the Gates view.
  const QString out = home.filePath(QStringLiteral("gates.png"));
  const QString image = gex::ui::MainWindow::resourceDirectory() + QStringLiteral("/samples/fashion-8-bag.png");
  QString err;
  ASSERT_EQ(run({image, QStringLiteral("--screenshot"), out}, home, &err), 0) << err.toStdString();
  EXPECT_FALSE(QImage(out).isNull());
  // Work that outlasts --timeout: exit 4 and no picture of the unfinished view. (The shipped runs
  // have probes, read at once; a run without them has its selectivity computed.)
  const QString shipped = gex::ui::MainWindow::resourceDirectory() +
                          QStringLiteral("/default-runs/resnet20-fashion-mnist-study/baseline/seed-1/");
  const QString unprobed = home.filePath(QStringLiteral("unprobed/"));
  ASSERT_TRUE(QDir().mkpath(unprobed + QStringLiteral("checkpoints")));
  for (const char* file : {"run.json", "metrics.csv", "checkpoints/best.safetensors"})
    ASSERT_TRUE(QFile::copy(shipped + QLatin1String(file), unprobed + QLatin1String(file))) << file;
  const QString late = home.filePath(QStringLiteral("late.png"));
  EXPECT_EQ(run({QStringLiteral("--view"), QStringLiteral("selectivity"), QStringLiteral("--open"), unprobed,
                 QStringLiteral("--timeout"), QStringLiteral("0.5"), QStringLiteral("--screenshot"), late},
                home, &err), 4) << err.toStdString();
  EXPECT_FALSE(QFileInfo::exists(late));
  EXPECT_TRUE(err.contains(QStringLiteral("still busy"))) << err.toStdString();
}

TEST(Screenshot, BadArgumentsExitWithTheirCodes) {
  QTemporaryDir home;
  const QString out = home.filePath(QStringLiteral("x.png"));
  EXPECT_EQ(run({QStringLiteral("--view"), QStringLiteral("nonsense"), QStringLiteral("--screenshot"), out}, home), 2);
  EXPECT_EQ(run({QStringLiteral("--timeout"), QStringLiteral("soon"), QStringLiteral("--screenshot"), out}, home), 2);
  EXPECT_EQ(run({QStringLiteral("--open"), home.filePath(QStringLiteral("missing")), QStringLiteral("--screenshot"), out}, home), 3);
  EXPECT_EQ(run({QStringLiteral("--image"), home.filePath(QStringLiteral("missing.png")), QStringLiteral("--screenshot"), out}, home), 3);
  QString imageless;  // a folder without images, named
  EXPECT_EQ(run({QStringLiteral("--image"), home.path(), QStringLiteral("--screenshot"), out}, home, &imageless), 3);
  EXPECT_TRUE(imageless.contains(home.path() + QStringLiteral(": holds no image files"))) << imageless.toStdString();
  EXPECT_EQ(run({home.filePath(QStringLiteral("missing.safetensors")), QStringLiteral("--screenshot"), out}, home), 3);
  // A runs folder that is a file: refused before any window, named.
  const QString file = home.filePath(QStringLiteral("notes.txt"));
  QFile(file).open(QIODevice::WriteOnly);
  QString err;
  EXPECT_EQ(run({QStringLiteral("--runs"), file, QStringLiteral("--screenshot"), out}, home, &err), 2);
  EXPECT_TRUE(err.contains(file + QStringLiteral(": not a folder"))) << err.toStdString();
  EXPECT_FALSE(QFileInfo::exists(out));
}

// A server or a cluster node has no display: the help, the version and usage errors still answer,
// a screenshot renders offscreen, and a window that cannot open says why (never Qt's abort).
TEST(Screenshot, WithoutADisplay) {
  QTemporaryDir home;
  QString err, out;
  ASSERT_EQ(run({QStringLiteral("--help")}, home, &err, Screen::kNone, &out), 0) << err.toStdString();
  EXPECT_TRUE(out.contains(QStringLiteral("--screenshot"))) << out.toStdString();
  ASSERT_EQ(run({QStringLiteral("--version")}, home, &err, Screen::kNone, &out), 0) << err.toStdString();
  EXPECT_TRUE(out.contains(QStringLiteral(GEX_VERSION))) << out.toStdString();
  EXPECT_EQ(run({QStringLiteral("--no-such-option")}, home, &err, Screen::kNone), 2);
  EXPECT_TRUE(err.contains(QStringLiteral("no-such-option"))) << err.toStdString();
  EXPECT_EQ(run({QStringLiteral("--view"), QStringLiteral("nonsense")}, home, &err, Screen::kNone), 2);
  EXPECT_EQ(run({}, home, &err, Screen::kNone), 3);
  EXPECT_TRUE(err.contains(QStringLiteral("no display"))) << err.toStdString();
  const QString shot = home.filePath(QStringLiteral("headless.png"));
  ASSERT_EQ(run({QStringLiteral("--view"), QStringLiteral("curves"), QStringLiteral("--screenshot"), shot}, home, &err,
                Screen::kNone), 0) << err.toStdString();
  EXPECT_FALSE(QImage(shot).isNull());
  // Qt's own options still reach Qt (-platform picks the offscreen plugin here).
  const QString styled = home.filePath(QStringLiteral("styled.png"));
  EXPECT_EQ(run({QStringLiteral("-platform"), QStringLiteral("offscreen"), QStringLiteral("-style"), QStringLiteral("fusion"),
                 QStringLiteral("--screenshot"), styled}, home, &err, Screen::kNone), 0) << err.toStdString();
  EXPECT_FALSE(QImage(styled).isNull());
  // A DISPLAY that does not answer: Qt's fatal error becomes a message and exit 3, not an abort.
  if (!QFileInfo::exists(QStringLiteral("/tmp/.X11-unix/X4711"))) {
    EXPECT_EQ(run({}, home, &err, Screen::kUnreachable), 3) << err.toStdString();
    EXPECT_TRUE(err.contains(QStringLiteral("cannot open a window"))) << err.toStdString();
  }
}

// The application asked to end by a signal (a session logging out, `kill`, Ctrl+C in its
// terminal) quits as File → Quit does and exits with the shell's status for it, 128 + the signal,
// rather than dying of it. The signal is sent once its handler is in place (the process's SigCgt).
TEST(Screenshot, ASignalQuitsTheApplicationWithTheShellsStatus) {
  QTemporaryDir home;
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  for (const char* v : {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"}) env.insert(QLatin1String(v), home.path());
  p.setProcessEnvironment(env);
  p.start(QStringLiteral(GE_EXPLORER_BINARY), {QStringLiteral("--view"), QStringLiteral("train")});
  ASSERT_TRUE(p.waitForStarted());
  const auto handles_term = [&] {
    QFile status(QStringLiteral("/proc/%1/status").arg(p.processId()));
    if (!status.open(QIODevice::ReadOnly)) return false;
    for (const QByteArray& line : status.readAll().split('\n'))
      if (line.startsWith("SigCgt:")) return ((line.mid(7).trimmed().toULongLong(nullptr, 16) >> (SIGTERM - 1)) & 1) != 0;
    return false;
  };
  QElapsedTimer clock;
  clock.start();
  while (!handles_term() && clock.elapsed() < 120000 && p.state() == QProcess::Running) QThread::msleep(50);
  ASSERT_TRUE(handles_term()) << "the application never installed its SIGTERM handler";
  p.terminate();
  ASSERT_TRUE(p.waitForFinished(60000));
  EXPECT_EQ(p.exitStatus(), QProcess::NormalExit);
  EXPECT_EQ(p.exitCode(), 128 + SIGTERM) << p.readAllStandardError().toStdString();
}

}  // namespace
