// ge-explorer: the Qt 6 desktop application (DESIGN §5).
//   ge-explorer [--runs DIR] [--open RUN|STUDY|CKPT]... [--view NAME] [--image IMG]... [--screenshot OUT.png]
//               [--timeout SECONDS] [FILE]...
#include <QApplication>
#include <QCommandLineParser>
#include <QElapsedTimer>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>
#include <cstdlib>

#include "errors.h"
#include "heap.h"
#include "io/image.h"
#include "main_window.h"
#include "quit_signals.h"

namespace {

void fail(const QString& text) { std::fprintf(stderr, "ge-explorer: %s\n", qPrintable(text)); }

void name_application() {
  QCoreApplication::setApplicationName(QStringLiteral("ge-explorer"));
  QCoreApplication::setOrganizationName(QStringLiteral("ge-explorer"));
  QCoreApplication::setApplicationVersion(QStringLiteral(GEX_VERSION));
}

// The command line, read before any window exists: help, version and usage errors must work on a
// machine without a display.
struct CommandLine {
  QCommandLineParser parser;
  QCommandLineOption help = parser.addHelpOption();
  QCommandLineOption version = parser.addVersionOption();
  QCommandLineOption runs{QStringLiteral("runs"), QStringLiteral("Runs folder (default ~/.local/share/ge-explorer/runs)."),
                          QStringLiteral("DIR")};
  QCommandLineOption open{QStringLiteral("open"), QStringLiteral("A run directory, a study's folder or a checkpoint to open (repeatable)."),
                          QStringLiteral("RUN|STUDY|CKPT")};
  QCommandLineOption view{QStringLiteral("view"),
                          QStringLiteral("View to show: %1.").arg(gex::ui::MainWindow::viewNames().join(QStringLiteral(", "))),
                          QStringLiteral("NAME")};
  QCommandLineOption image{QStringLiteral("image"), QStringLiteral("Image, or folder of images, for the Gates view (repeatable)."),
                           QStringLiteral("IMG")};
  QCommandLineOption screenshot{QStringLiteral("screenshot"),
                                QStringLiteral("Render the view once its work is done, write it as PNG and exit (offscreen "
                                               "where there is no display)."),
                                QStringLiteral("OUT.png")};
  QCommandLineOption timeout{QStringLiteral("timeout"),
                             QStringLiteral("How long --screenshot waits for the view's work (default 600); past it, it "
                                            "exits 4 and writes nothing."),
                             QStringLiteral("SECONDS"), QStringLiteral("600")};
  QCommandLineOption platform{QStringLiteral("platform"), QStringLiteral("Qt's platform plugin (as every Qt program)."),
                              QStringLiteral("NAME")};

  CommandLine() {
    parser.setApplicationDescription(QStringLiteral("GE Explorer: train and inspect Gather-Excite networks"));
    // Qt's own single-dash options (-platform, -style …) read as long options, as QApplication reads them.
    parser.setSingleDashWordOptionMode(QCommandLineParser::ParseAsLongOptions);
    parser.addOptions({runs, open, view, image, screenshot, timeout, platform});
    for (const char* name : {"style", "stylesheet", "display", "geometry", "qwindowgeometry", "qwindowtitle",
                             "qwindowicon", "platformtheme", "platformpluginpath", "plugin", "session"}) {
      QCommandLineOption qt{QString::fromLatin1(name), QString(), QStringLiteral("VALUE")};
      qt.setFlags(QCommandLineOption::HiddenFromHelp);
      parser.addOption(qt);
    }
    for (const char* name : {"reverse", "nograb", "dograb", "sync"}) {
      QCommandLineOption qt{QString::fromLatin1(name)};
      qt.setFlags(QCommandLineOption::HiddenFromHelp);
      parser.addOption(qt);
    }
    parser.addPositionalArgument(QStringLiteral("FILES"), QStringLiteral("Runs, studies, checkpoints, weights to import or images to open."),
                                 QStringLiteral("[FILE…]"));
  }
};

// Whether Qt will look for a display that is not there (X11 or Wayland without their variables).
bool lacks_display(const CommandLine& cl) {
#if defined(Q_OS_LINUX)
  return !cl.parser.isSet(cl.platform) && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM") &&
         qEnvironmentVariableIsEmpty("DISPLAY") && qEnvironmentVariableIsEmpty("WAYLAND_DISPLAY");
#else
  Q_UNUSED(cl);
  return false;
#endif
}

QtMessageHandler g_qt_messages = nullptr;

// Qt ends with qFatal — an abort and a core dump — when its platform plugin cannot start, as with a
// DISPLAY that is set but cannot be reached: say so and exit 3 instead.
void on_platform_failure(QtMsgType type, const QMessageLogContext& context, const QString& text) {
  if (type == QtFatalMsg && text.contains(QLatin1String("platform plugin"))) {
    fail(QStringLiteral("cannot open a window (DISPLAY=%1 does not answer, or no platform plugin fits): start it "
                        "in a desktop session, over ssh -X or under xvfb-run; for --screenshot unset DISPLAY (or "
                        "set QT_QPA_PLATFORM=offscreen); gex does all of its work headless")
             .arg(qEnvironmentVariable("DISPLAY")));
    std::_Exit(3);
  }
  if (g_qt_messages) g_qt_messages(type, context, text);
}

}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();
  CommandLine cl;
  QCommandLineParser& parser = cl.parser;
  QStringList arguments;
  for (int i = 0; i < argc; ++i) arguments << QString::fromLocal8Bit(argv[i]);
  if (!parser.parse(arguments)) {
    QString error = parser.errorText();
    if (error.endsWith(QLatin1Char('.'))) error.chop(1);
    fail(error + QStringLiteral(" (see ge-explorer --help)"));
    return 2;
  }
  if (parser.isSet(cl.help) || parser.isSet(QStringLiteral("help-all")) || parser.isSet(cl.version)) {
    QCoreApplication core(argc, argv);
    name_application();
    parser.process(core);  // prints the help or the version and exits 0
  }
  const QStringList views = gex::ui::MainWindow::viewNames();
  if (parser.isSet(cl.view) && !views.contains(parser.value(cl.view))) {
    fail(QStringLiteral("unknown view '%1' (one of %2)").arg(parser.value(cl.view), views.join(QStringLiteral(", "))));
    return 2;
  }
  bool seconds_ok = false;
  const double wait = parser.value(cl.timeout).toDouble(&seconds_ok);
  if (!seconds_ok || wait <= 0) {
    fail(QStringLiteral("--timeout takes a number of seconds, not '%1'").arg(parser.value(cl.timeout)));
    return 2;
  }
  const bool shot = parser.isSet(cl.screenshot);
  if (lacks_display(cl)) {
    if (!shot) {
      fail(QStringLiteral("no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY is set): start it in a "
                          "desktop session, over ssh -X or under xvfb-run; --screenshot renders without one, and gex "
                          "does all of its work headless"));
      return 3;
    }
    qputenv("QT_QPA_PLATFORM", "offscreen");  // a screenshot needs no screen
  }

  g_qt_messages = qInstallMessageHandler(on_platform_failure);
  QApplication app(argc, argv);
  qInstallMessageHandler(g_qt_messages);
  name_application();
  QApplication::setDesktopFileName(QStringLiteral("ge-explorer"));
  for (const QString& f : parser.values(cl.image)) {
    QString problem;
    if (QFileInfo(f).isDir()) {  // a folder: its images
      try {
        gex::image_files({f.toStdString()});
      } catch (const gex::Error& e) {
        problem = QString::fromStdString(e.what());
      }
    } else if (!QFileInfo(f).isFile()) {
      problem = QStringLiteral("%1: no such image file").arg(f);
    }
    if (!problem.isEmpty()) {
      fail(problem);
      if (shot) return 3;
    }
  }

  if (const QFileInfo runs(parser.value(cl.runs)); parser.isSet(cl.runs) && runs.exists() && !runs.isDir()) {
    fail(QStringLiteral("--runs %1: not a folder").arg(parser.value(cl.runs)));
    return 2;
  }

  if (gex::ui::MainWindow::resourceDirectory().isEmpty())
    fail(QStringLiteral("no shipped runs and samples found (looked in %1/../share/ge-explorer and $GEX_RESOURCE_DIR)")
             .arg(QApplication::applicationDirPath()));
  gex::ui::MainWindow window(parser.value(cl.runs));
  for (const QString& p : parser.values(cl.open))
    if (!window.openPath(p)) {
      fail(window.messageText());
      if (shot) return 3;
    }
  window.openImages(parser.values(cl.image));
  // Positional files (what the desktop file's %F passes): runs, checkpoints or images.
  if (!parser.positionalArguments().isEmpty() && !window.openPaths(parser.positionalArguments())) {
    fail(window.messageText());
    if (shot) return 3;
  }
  // The session ending, `kill` or Ctrl+C in the terminal: quit as File → Quit does (a training run
  // saves `last` first), with the shell's status for the signal.
  gex::ui::QuitSignals quitSignals;
  QObject::connect(&quitSignals, &gex::ui::QuitSignals::received, &window, [&window](int signal) {
    window.quitWithoutAsking();
    QApplication::exit(128 + signal);
  });
  if (parser.isSet(cl.view)) window.showView(parser.value(cl.view));
  // Qt's offscreen screen is 800×600, which clips the views: render as on a 1366×768 laptop's
  // first start (90 % of its screen) instead.
  if (QGuiApplication::platformName() == QLatin1String("offscreen")) window.resize(1229, 691);
  window.show();

  if (shot) {
    // Grab once no engine work has been running for a few ticks (jobs start one another).
    const QString out = parser.value(cl.screenshot);
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
