// Offscreen UI tests: QT_QPA_PLATFORM=offscreen, test-mode standard paths, one QApplication.
#include <gtest/gtest.h>

#include <QApplication>
#include <QStandardPaths>

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("ge-explorer-tests"));
  QApplication::setOrganizationName(QStringLiteral("ge-explorer-tests"));
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
