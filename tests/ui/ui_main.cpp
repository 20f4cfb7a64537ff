// Offscreen UI tests: QT_QPA_PLATFORM=offscreen, test-mode standard paths, one QApplication.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QStandardPaths>

namespace {
// The offscreen platform says this for every window it shows: noise, not a finding.
void quiet(QtMsgType type, const QMessageLogContext& context, const QString& text) {
  if (text.contains(QLatin1String("does not support propagateSizeHints"))) return;
  qt_message_output(type, context, text);
}
}  // namespace

int main(int argc, char** argv) {
  qInstallMessageHandler(quiet);
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  // The desktop trash of the test-mode data folder, where the run browser's Delete puts runs.
  QDir().mkpath(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation));
  QApplication::setApplicationName(QStringLiteral("ge-explorer-tests"));
  QApplication::setOrganizationName(QStringLiteral("ge-explorer-tests"));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
