// ge-explorer: the Qt 6 desktop application (DESIGN §5).
//   ge-explorer [--runs DIR] [--open RUN|CKPT]... [--view NAME] [--image IMG]... [--screenshot OUT.png]
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
  parser.addOptions({runs, open, view, image, screenshot});
  parser.process(app);
  const bool shot = parser.isSet(screenshot);

  if (parser.isSet(view) && !gex::ui::MainWindow::viewNames().contains(parser.value(view))) {
    fail(QStringLiteral("unknown view '%1' (one of %2)").arg(parser.value(view), views));
    return 2;
  }
  for (const QString& f : parser.values(image))
    if (!QFileInfo(f).isFile()) {
      fail(QStringLiteral("%1: no such image file").arg(f));
      if (shot) return 3;
    }

  gex::ui::MainWindow window(parser.value(runs));
  for (const QString& p : parser.values(open))
    if (!window.openPath(p)) {
      fail(window.messageText());
      if (shot) return 3;
    }
  window.openImages(parser.values(image));
  if (parser.isSet(view)) window.showView(parser.value(view));
  window.show();

  if (shot) {
    // Grab once no engine work has been running for a few ticks (jobs start one another).
    const QString out = parser.value(screenshot);
    auto* timer = new QTimer(&window);
    auto idle = std::make_shared<int>(0);
    auto clock = std::make_shared<QElapsedTimer>();
    clock->start();
    QObject::connect(timer, &QTimer::timeout, &window, [&window, out, idle, clock] {
      *idle = window.isBusy() ? 0 : *idle + 1;
      if (*idle < 4 && clock->elapsed() < 600000) return;
      if (*idle < 4) fail(QStringLiteral("the view was still busy after 10 minutes; writing it as it is"));
      const bool ok = window.grab().save(out, "PNG");
      if (!ok) fail(QStringLiteral("%1: cannot write the screenshot").arg(out));
      QApplication::exit(ok ? 0 : 3);
    });
    timer->start(100);
  }
  return app.exec();
}
