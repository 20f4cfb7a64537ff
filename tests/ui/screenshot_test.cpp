// `ge-explorer --screenshot` as documentation and scripts use it: a PNG of the view, exit codes.
#include <gtest/gtest.h>

#include <QImage>
#include <QProcess>
#include <QTemporaryDir>

#include "ui_test_support.h"

namespace {

int run(const QStringList& args, const QTemporaryDir& home) {
  QProcess p;
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert(QStringLiteral("QT_QPA_PLATFORM"), QStringLiteral("offscreen"));
  for (const char* v : {"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"}) env.insert(QLatin1String(v), home.path());
  p.setProcessEnvironment(env);
  p.start(QStringLiteral(GE_EXPLORER_BINARY), args);
  if (!p.waitForFinished(300000)) return -1;
  return p.exitCode();
}

TEST(Screenshot, WritesTheViewAndExits) {
  QTemporaryDir home;
  const QString out = home.filePath(QStringLiteral("curves.png"));
  ASSERT_EQ(run({QStringLiteral("--view"), QStringLiteral("curves"), QStringLiteral("--screenshot"), out}, home), 0);
  const QImage image(out);
  ASSERT_FALSE(image.isNull());
  EXPECT_GE(image.width(), 800);
  EXPECT_GT(gex::ui::test::distinct_colours(image), 50);
}

TEST(Screenshot, BadArgumentsExitWithTheirCodes) {
  QTemporaryDir home;
  const QString out = home.filePath(QStringLiteral("x.png"));
  EXPECT_EQ(run({QStringLiteral("--view"), QStringLiteral("nonsense"), QStringLiteral("--screenshot"), out}, home), 2);
  EXPECT_EQ(run({QStringLiteral("--open"), home.filePath(QStringLiteral("missing")), QStringLiteral("--screenshot"), out}, home), 3);
  EXPECT_EQ(run({QStringLiteral("--image"), home.filePath(QStringLiteral("missing.png")), QStringLiteral("--screenshot"), out}, home), 3);
  EXPECT_FALSE(QFileInfo::exists(out));
}

}  // namespace
