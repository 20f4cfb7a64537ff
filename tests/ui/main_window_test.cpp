// The main window offscreen: it opens on every view and paints something.
#include <gtest/gtest.h>

#include <QApplication>
#include <QImage>
#include <QStandardPaths>

#include "main_window.h"

namespace {

// Distinct colours in the image: a blank or single-colour render has one or two.
int distinct_colours(const QImage& image) {
  QSet<QRgb> seen;
  for (int y = 0; y < image.height(); y += 3)
    for (int x = 0; x < image.width(); x += 3) seen.insert(image.pixel(x, y));
  return seen.size();
}

TEST(MainWindow, EveryViewRendersSomething) {
  gex::ui::MainWindow window;
  window.show();
  for (const auto& view : gex::ui::MainWindow::viewNames()) {
    ASSERT_TRUE(window.showView(view));
    QApplication::processEvents();
    const QImage image = window.grab().toImage();
    EXPECT_GE(image.width(), 800);
    EXPECT_GT(distinct_colours(image), 4) << view.toStdString();
  }
  EXPECT_FALSE(window.showView(QStringLiteral("nonsense")));
}

}  // namespace

int main(int argc, char** argv) {
  qputenv("QT_QPA_PLATFORM", "offscreen");
  QStandardPaths::setTestModeEnabled(true);
  QApplication app(argc, argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
