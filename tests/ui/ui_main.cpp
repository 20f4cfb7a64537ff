// Offscreen UI tests: QT_QPA_PLATFORM=offscreen, test-mode standard paths, one QApplication.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>

#include "heap.h"

namespace {
// The offscreen platform says this for every window it shows: noise, not a finding.
void quiet(QtMsgType type, const QMessageLogContext& context, const QString& text) {
  if (text.contains(QLatin1String("does not support propagateSizeHints"))) return;
  qt_message_output(type, context, text);
}
}  // namespace

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as the application has it
  qInstallMessageHandler(quiet);
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  // The desktop trash of the test-mode data folder, where the run browser's Delete puts runs.
  QDir().mkpath(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation));
  QApplication::setApplicationName(QStringLiteral("ge-explorer-tests"));
  QApplication::setOrganizationName(QStringLiteral("ge-explorer-tests"));
  // Each test process its own settings: CTest runs the groups in parallel, and a group that clears
  // the settings in its SetUp must not wipe what another group's test is about to read back.
  QTemporaryDir settings;
  QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, settings.path());
  QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, settings.path());
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
