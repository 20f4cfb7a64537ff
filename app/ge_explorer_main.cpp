// ge-explorer: the Qt 6 desktop application (DESIGN §5).
#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

#include <cstdio>

#include "main_window.h"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("ge-explorer"));
  QApplication::setOrganizationName(QStringLiteral("ge-explorer"));
  QApplication::setApplicationVersion(QStringLiteral(GEX_VERSION));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral("GE Explorer: train and inspect Gather-Excite networks"));
  parser.addHelpOption();
  parser.addVersionOption();
  QCommandLineOption view(QStringLiteral("view"), QStringLiteral("View to show: %1.")
                                                      .arg(gex::ui::MainWindow::viewNames().join(QStringLiteral(", "))),
                          QStringLiteral("NAME"));
  QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                QStringLiteral("Render the view, write it as PNG and exit."),
                                QStringLiteral("OUT.png"));
  parser.addOption(view);
  parser.addOption(screenshot);
  parser.process(app);

  gex::ui::MainWindow window;
  if (parser.isSet(view) && !window.showView(parser.value(view))) {
    std::fprintf(stderr, "ge-explorer: unknown view '%s' (one of %s)\n",
                 qPrintable(parser.value(view)),
                 qPrintable(gex::ui::MainWindow::viewNames().join(QStringLiteral(", "))));
    return 2;
  }
  window.show();
  if (parser.isSet(screenshot)) {
    const QString out = parser.value(screenshot);
    QTimer::singleShot(0, &window, [&window, out] {
      const bool ok = window.grab().save(out, "PNG");
      if (!ok) std::fprintf(stderr, "ge-explorer: cannot write %s\n", qPrintable(out));
      QApplication::exit(ok ? 0 : 3);
    });
  }
  return app.exec();
}
