// ge-explorer: the Qt 6 desktop application (DESIGN §5).
//   ge-explorer [--runs DIR] [--open RUN|CKPT]... [--view NAME] [--image IMG]... [--screenshot OUT.png]
//               [--timeout SECONDS] [FILE]...
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>

#include "main_window.h"

namespace {

void fail(const QString& text) { std::fprintf(stderr, "ge-explorer: %s\n", qPrintable(text)); }

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("ge-explorer"));
  QApplication::setOrganizationName(QStringLiteral("ge-explorer"));
  QApplication::setApplicationVersion(QStringLiteral(GEX_VERSION));
  QApplication::setDesktopFileName(QStringLiteral("ge-explorer"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("GE Explorer: train and inspect Gather-Excite networks"));
  parser.addHelpOption();
  parser.addVersionOption();
  const QString views = gex::ui::MainWindow::viewNames().join(QStringLiteral(", "));
  QCommandLineOption runs(QStringLiteral("runs"), QStringLiteral("Runs folder (default ~/.local/share/ge-explorer/runs)."),
                          QStringLiteral("DIR"));
  QCommandLineOption open(QStringLiteral("open"), QStringLiteral("A run directory or a checkpoint to open (repeatable)."),
                          QStringLiteral("RUN|CKPT"));
  QCommandLineOption view(QStringLiteral("view"), QStringLiteral("View to show: %1.").arg(views), QStringLiteral("NAME"));
  QCommandLineOption image(QStringLiteral("image"), QStringLiteral("Image for the Gates view (repeatable)."),
                           QStringLiteral("IMG"));
  QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                QStringLiteral("Render the view once its work is done, write it as PNG and exit."),
                                QStringLiteral("OUT.png"));
  QCommandLineOption timeout(QStringLiteral("timeout"),
                             QStringLiteral("How long --screenshot waits for the view's work (default 600); past "
                                            "it, it exits 4 and writes nothing."),
                             QStringLiteral("SECONDS"), QStringLiteral("600"));
  parser.addOptions({runs, open, view, image, screenshot, timeout});
  parser.addPositionalArgument(QStringLiteral("FILES"), QStringLiteral("Runs, checkpoints or images to open."),
                               QStringLiteral("[FILE…]"));
  parser.process(app);
  const bool shot = parser.isSet(screenshot);

  if (parser.isSet(view) && !gex::ui::MainWindow::viewNames().contains(parser.value(view))) {
    fail(QStringLiteral("unknown view '%1' (one of %2)").arg(parser.value(view), views));
    return 2;
  }
  bool seconds_ok = false;
  const double wait = parser.value(timeout).toDouble(&seconds_ok);
  if (!seconds_ok || wait <= 0) {
    fail(QStringLiteral("--timeout takes a number of seconds, not '%1'").arg(parser.value(timeout)));
    return 2;
  }
  for (const QString& f : parser.values(image))
    if (!QFileInfo(f).isFile()) {
      fail(QStringLiteral("%1: no such image file").arg(f));
      if (shot) return 3;
    }

  if (gex::ui::MainWindow::resourceDirectory().isEmpty())
    fail(QStringLiteral("no shipped runs and samples found (looked in %1/../share/ge-explorer and $GEX_RESOURCE_DIR)")
             .arg(QApplication::applicationDirPath()));
  gex::ui::MainWindow window(parser.value(runs));
  for (const QString& p : parser.values(open))
    if (!window.openPath(p)) {
      fail(window.messageText());
      if (shot) return 3;
    }
  window.openImages(parser.values(image));
  // Positional files (what the desktop file's %F passes): runs, checkpoints or images.
  if (!parser.positionalArguments().isEmpty() && !window.openPaths(parser.positionalArguments())) {
    fail(window.messageText());
    if (shot) return 3;
  }
  if (parser.isSet(view)) window.showView(parser.value(view));
  window.show();

  if (shot) {
    // Grab once no engine work has been running for a few ticks (jobs start one another).
    const QString out = parser.value(screenshot);
    auto* timer = new QTimer(&window);
    auto idle = std::make_shared<int>(0);
    auto clock = std::make_shared<QElapsedTimer>();
    clock->start();
    const qint64 limit = qint64(wait * 1000);
    QObject::connect(timer, &QTimer::timeout, &window, [&window, out, idle, clock, limit] {
      *idle = window.isBusy() ? 0 : *idle + 1;
      if (*idle < 4 && clock->elapsed() < limit) return;
      if (*idle < 4) {
        // A picture of unfinished work would pass for the finished view: none is written.
        fail(QStringLiteral("the view was still busy after %1 s; no screenshot written").arg(limit / 1000.0));
        QApplication::exit(4);
        return;
      }
      const bool ok = window.grab().save(out, "PNG");
      if (!ok) fail(QStringLiteral("%1: cannot write the screenshot").arg(out));
      QApplication::exit(ok ? 0 : 3);
    });
    timer->start(100);
  }
  return app.exec();
}
