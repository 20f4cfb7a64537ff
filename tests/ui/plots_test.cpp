// The plot controllers and the overlay maths on unshown widgets, against values by hand.
#include <gtest/gtest.h>

#include <QFile>
#include <QSet>
#include <QTemporaryDir>

#include "curve_plot.h"
#include "gate_overlay.h"
#include "message_bar.h"
#include "plot_style.h"
#include "qcp.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

TEST(Smoothing, DebiasedEmaByHand) {
  // a = 0.5: s = 0.5, 1.25, 2.125; weights 0.5, 0.75, 0.875.
  const auto s = smooth_ema({1, 2, 3}, 0.5);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_DOUBLE_EQ(s[0], 1.0);
  EXPECT_DOUBLE_EQ(s[1], 1.25 / 0.75);
  EXPECT_DOUBLE_EQ(s[2], 2.125 / 0.875);
  EXPECT_EQ(smooth_ema({4, 7}, 0.0), (std::vector<double>{4, 7}));
  // A constant stays constant at any smoothing: the debiasing removes the pull towards 0.
  for (double v : smooth_ema(std::vector<double>(50, 3.0), 0.99)) EXPECT_NEAR(v, 3.0, 1e-12);
}

// Never empty axes: no series → the idle hint; series without a point yet (a run loading its
// data, a first epoch before its evaluation) → the waiting hint; the first point → none.
TEST(CurvePlotTest, HintsUntilThereIsAPoint) {
  QCustomPlot plot;
  CurvePlot curves(&plot, QStringLiteral("epoch"), QStringLiteral("top-1 error (%)"));
  curves.setIdleHint(QStringLiteral("start a run"));
  curves.setWaitingHint(QStringLiteral("after each epoch"));
  EXPECT_EQ(hint(&plot), QStringLiteral("start a run"));
  curves.setSeries({make_series(QStringLiteral("run"), QStringLiteral("val top-1"), Qt::red)});
  EXPECT_EQ(hint(&plot), QStringLiteral("after each epoch"));
  EXPECT_FALSE(plot.legend->visible());
  curves.append(0, {1}, {12.5});
  EXPECT_EQ(hint(&plot), QString());
  EXPECT_EQ(curves.pointCount(0), 1);
  curves.setSeries({});
  EXPECT_EQ(hint(&plot), QStringLiteral("start a run"));
}

// A run's first evaluation is one point: QCustomPlot keeps an axis's old width around a lone value
// (the epoch axis read −1.9 … 3.1, then 0 … 2.6 for a point at 0.13); the axis gets room in
// proportion to the value, and one whose data are not negative starts at zero at most.
TEST(CurvePlotTest, ALonePointKeepsTheAxesAtOrAboveZero) {
  QCustomPlot plot;
  CurvePlot curves(&plot, QStringLiteral("epoch"), QStringLiteral("top-1 error (%)"));
  curves.setSeries({make_series(QStringLiteral("run"), QStringLiteral("val top-1"), Qt::red)});
  plot.xAxis->setRange(100, 110);  // far from the point: only a rescale brings it into view
  plot.yAxis->setRange(100, 110);
  curves.append(0, {0.64}, {1.5});
  const auto fitted = [&] { return plot.xAxis->range().contains(0.64); };
  ASSERT_TRUE(test::wait_until(fitted, 5000)) << "the plot never rescaled to its point";
  EXPECT_GE(plot.xAxis->range().lower, 0.0);
  EXPECT_GT(plot.xAxis->range().upper, 0.64);
  EXPECT_GE(plot.yAxis->range().lower, 0.0);
  EXPECT_GT(plot.yAxis->range().upper, 1.5);
  // Room in proportion to the value (here at least 0.5 on either side), not the old axis's width
  // of 10 around it (which showed 0 … 5.6).
  EXPECT_NEAR(plot.xAxis->range().upper, 0.64 + 0.5, 1e-9);
  EXPECT_NEAR(plot.yAxis->range().lower, 1.5 - 0.75 - 0.04 * 1.5, 1e-9);
  // The first training loss: its smoothed copy (the debiased EMA of one value) can be an ulp off
  // the raw one, which made an axis 2e-16 wide labelled "1.63789" at both ends.
  QCustomPlot lossPlot;
  CurvePlot first(&lossPlot, QStringLiteral("step"), QStringLiteral("training loss"));
  first.setSeries({make_series(QStringLiteral("run"), QStringLiteral("train loss"), Qt::red)});
  const double y = 1.5;  // (0.4 · 1.5) / 0.4 = 1.5000000000000002
  lossPlot.yAxis->setRange(100, 110);
  first.append(0, {20}, {y});
  ASSERT_TRUE(test::wait_until([&] { return lossPlot.yAxis->range().contains(y); }, 5000));
  EXPECT_GT(lossPlot.yAxis->range().size(), 0.1) << lossPlot.yAxis->range().lower << " … " << lossPlot.yAxis->range().upper;
  // Data below zero keep their padding below the lowest point.
  curves.append(0, {1.64}, {-2.0});
  ASSERT_TRUE(test::wait_until([&] { return plot.yAxis->range().lower < -2.0; }, 5000));
  EXPECT_DOUBLE_EQ(plot.xAxis->range().lower, 0.64);
  EXPECT_DOUBLE_EQ(plot.xAxis->range().upper, 1.64);
}

// The hover readout lists the series that have data under the pointer: a run that ended at step
// 300 is not read out at step 1,880 as its last point.
TEST(CurvePlotTest, TheReadoutListsOnlySeriesWithDataThere) {
  QCustomPlot plot;
  plot.resize(600, 400);
  CurvePlot curves(&plot, QStringLiteral("step"), QStringLiteral("loss"));
  curves.setSmoothing(0);
  Series longRun = make_series(QStringLiteral("long"), QStringLiteral("train loss"), Qt::red);
  Series shortRun = make_series(QStringLiteral("short"), QStringLiteral("train loss"), Qt::blue);
  for (int step = 20; step <= 2000; step += 20) longRun.x.push_back(step), longRun.y.push_back(1.0);
  for (int step = 20; step <= 300; step += 20) shortRun.x.push_back(step), shortRun.y.push_back(2.0);
  curves.setSeries({longRun, shortRun});
  plot.show();
  test::settle(200);  // laid out: pixels to measure with
  plot.xAxis->setRange(0, 2000);
  plot.replot();
  curves.hoverAt(1880);
  EXPECT_TRUE(curves.hoverText().contains(QStringLiteral("long · train loss: 1 at 1880"))) << curves.hoverText().toStdString();
  EXPECT_FALSE(curves.hoverText().contains(QStringLiteral("short"))) << curves.hoverText().toStdString();
  curves.hoverAt(145);
  EXPECT_TRUE(curves.hoverText().contains(QStringLiteral("short · train loss: 2 at 140"))) << curves.hoverText().toStdString();
  curves.hoverAt(302);  // a pixel past its end: still read
  EXPECT_TRUE(curves.hoverText().contains(QStringLiteral("short · train loss: 2 at 300"))) << curves.hoverText().toStdString();
}

// Dozens of runs checked: the legend keeps to a third of the plot's height, its last line says
// how many curves it leaves out, and the axes keep the rest (111 runs' legend squeezed them to
// nothing). The readout keeps to the axes too, with the curves nearest the pointer. Fewer curves
// again: every one is back in the legend, in its order.
TEST(CurvePlotTest, ManyCurvesLeaveTheAxesTheirRoom) {
  QCustomPlot plot;
  plot.resize(600, 500);
  CurvePlot curves(&plot, QStringLiteral("step"), QStringLiteral("loss"));
  curves.setSmoothing(0);
  std::vector<Series> many;
  for (int r = 0; r < 80; ++r) {
    Series s = make_series(QStringLiteral("run-%1").arg(r), QStringLiteral("train loss"), Qt::red);
    for (int step = 0; step <= 100; step += 10) s.x.push_back(step), s.y.push_back(r);  // run-r at height r
    many.push_back(s);
  }
  curves.setSeries(many);
  plot.show();
  test::settle(300);
  plot.replot();
  const int items = plot.legend->itemCount();
  ASSERT_GT(items, 2);
  EXPECT_LT(items, 80);
  auto* last = plot.legend->item(items - 1);
  EXPECT_EQ(qobject_cast<QCPPlottableLegendItem*>(last), nullptr) << "the last line is the count of the rest";
  int listed = 0;
  for (int i = 0; i < items; ++i) listed += qobject_cast<QCPPlottableLegendItem*>(plot.legend->item(i)) != nullptr;
  EXPECT_EQ(listed, items - 1);
  for (int i = 0; i < listed; ++i)  // the first curves, in order
    EXPECT_EQ(qobject_cast<QCPPlottableLegendItem*>(plot.legend->item(i))->plottable()->name(),
              QStringLiteral("run-%1 · train loss").arg(i));
  EXPECT_LE(plot.legend->outerRect().height(), plot.height() / 3 + 4);
  EXPECT_GE(plot.axisRect()->height(), plot.height() / 3);

  plot.xAxis->setRange(0, 100);
  plot.yAxis->setRange(0, 80);
  plot.replot();
  curves.hoverAt(50, 40.2);
  const QStringList lines = curves.hoverText().split(QLatin1Char('\n'));
  EXPECT_LT(lines.size(), 80);
  EXPECT_LE(lines.size() * QFontMetrics(plot.font()).height(), plot.axisRect()->height());
  EXPECT_EQ(lines.first(), QStringLiteral("run-40 · train loss: 40 at 50"));
  EXPECT_EQ(lines.last(), QStringLiteral("… and %1 more").arg(80 - (lines.size() - 1)));

  curves.setSeries({many[0], many[1], many[2]});
  plot.replot();
  ASSERT_EQ(plot.legend->itemCount(), 3);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(qobject_cast<QCPPlottableLegendItem*>(plot.legend->item(i))->plottable()->name(),
              QStringLiteral("run-%1 · train loss").arg(i));
}

// A run's name wider than the plot (the Train view's live plot at laptop width) is elided in the
// middle in the legend, so that its model and its time both show, and its entry stays inside the
// plot; given room, it reads whole.
TEST(CurvePlotTest, ANameWiderThanThePlotKeepsBothEndsInTheLegend) {
  QCustomPlot plot;
  plot.resize(260, 300);
  CurvePlot curves(&plot, QStringLiteral("step"), QStringLiteral("loss"));
  const QString run = QStringLiteral("resnet20-ge-theta-minus-global-20261206-094144");
  Series s = make_series(run, QStringLiteral("train loss"), Qt::red);
  s.x = {0, 10, 20};
  s.y = {2, 1, 0.5};
  curves.setSeries({s});
  plot.show();
  test::settle(300);
  plot.replot();
  ASSERT_EQ(plot.legend->itemCount(), 1);
  const QString shown = legend_entry_text(&plot, 0);
  EXPECT_TRUE(shown.startsWith(QStringLiteral("resnet20-"))) << shown.toStdString();
  EXPECT_TRUE(shown.endsWith(QStringLiteral("train loss"))) << shown.toStdString();
  EXPECT_TRUE(shown.contains(QChar(0x2026))) << shown.toStdString();
  EXPECT_LE(plot.legend->item(0)->outerRect().right(), plot.width());
  EXPECT_GE(plot.axisRect()->width(), 100);

  plot.resize(900, 300);
  test::settle(100);
  plot.replot();
  EXPECT_EQ(legend_entry_text(&plot, 0), run + QStringLiteral(" · train loss"));
}

TEST(CurvePlotTest, KeepsEveryPointAndExportsThem) {
  QCustomPlot plot;
  CurvePlot curves(&plot, QStringLiteral("step"), QStringLiteral("loss"));
  Series s = make_series(QStringLiteral("run"), QStringLiteral("train loss"), Qt::red);
  for (int i = 0; i < 1000; ++i) s.x.push_back(i), s.y.push_back(1.0 / (1 + i));
  curves.setSeries({s});
  EXPECT_EQ(curves.pointCount(0), 1000);
  curves.append(0, {1000, 1001}, {0.5, 0.25});
  EXPECT_EQ(curves.pointCount(0), 1002);
  QTemporaryDir dir;
  QString error;
  ASSERT_TRUE(curves.exportCsv(dir.filePath(QStringLiteral("c.csv")), &error)) << error.toStdString();
  QFile f(dir.filePath(QStringLiteral("c.csv")));
  ASSERT_TRUE(f.open(QIODevice::ReadOnly));
  const QStringList lines = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  ASSERT_EQ(lines.size(), 1 + 1002);
  EXPECT_EQ(lines[0], QStringLiteral("run,series,x,y"));
  EXPECT_EQ(lines[1002], QStringLiteral("run,train loss,1001,0.25"));
  // Pictures by suffix, each of its own kind: a PNG of at least 900 px holding the series' red,
  // an SVG naming the series, a PDF.
  ASSERT_TRUE(curves.exportImage(dir.filePath(QStringLiteral("plot.png")), &error)) << error.toStdString();
  const QImage png(dir.filePath(QStringLiteral("plot.png")));
  ASSERT_GE(png.width(), 900);
  int red = 0;
  for (int y = 0; y < png.height(); ++y)
    for (int x = 0; x < png.width(); ++x) red += png.pixelColor(x, y) == QColor(Qt::red);
  EXPECT_GT(red, 100);
  ASSERT_TRUE(curves.exportImage(dir.filePath(QStringLiteral("plot.svg")), &error)) << error.toStdString();
  QFile svg(dir.filePath(QStringLiteral("plot.svg")));
  ASSERT_TRUE(svg.open(QIODevice::ReadOnly));
  const QByteArray svgText = svg.readAll();
  EXPECT_TRUE(svgText.contains("<svg"));
  EXPECT_TRUE(svgText.contains("run")) << "the legend's text is missing";
  ASSERT_TRUE(curves.exportImage(dir.filePath(QStringLiteral("plot.pdf")), &error)) << error.toStdString();
  QFile pdf(dir.filePath(QStringLiteral("plot.pdf")));
  ASSERT_TRUE(pdf.open(QIODevice::ReadOnly));
  EXPECT_TRUE(pdf.readAll().startsWith("%PDF-"));
  EXPECT_FALSE(curves.exportImage(dir.filePath(QStringLiteral("plot.bmpx")), &error));
  EXPECT_TRUE(error.contains(QStringLiteral("plot.bmpx")));
}

TEST(Overlay, BlendsTheColourMapOverTheImageCellByCell) {
  QImage image(4, 4, QImage::Format_RGB32);
  image.fill(qRgb(100, 100, 100));
  GateMap map{2, 2, {0.0f, 1.0f, 0.5f, 0.25f}};
  const QImage out = compose_overlay(image, map, QStringLiteral("gray"), 0.5, 0, 1);
  // Gray map: value v → (255v, 255v, 255v); blended half and half with 100.
  const auto expect = [](double v) { return int(std::lround(0.5 * 100 + 0.5 * std::lround(255 * v))); };
  EXPECT_EQ(qRed(out.pixel(0, 0)), expect(0.0));
  EXPECT_EQ(qRed(out.pixel(3, 0)), expect(1.0));
  EXPECT_EQ(qRed(out.pixel(0, 3)), expect(0.5));
  EXPECT_EQ(qRed(out.pixel(3, 3)), expect(0.25));
  EXPECT_EQ(qRed(out.pixel(1, 1)), qRed(out.pixel(0, 0)));  // nearest: one cell, one colour
  // Viridis ends: dark purple at 0, yellow at 1.
  EXPECT_EQ(colormap_color(QStringLiteral("viridis"), 0), QColor(68, 1, 84));
  EXPECT_EQ(colormap_color(QStringLiteral("viridis"), 1), QColor(253, 231, 37));
}

TEST(Overlay, SmoothCellsInterpolateBetweenCellCentres) {
  // A 2×2 map on 4×4 pixels: cell centres fall at pixels 0.5 and 2.5, so pixel 1 (centre 1.5 in
  // pixels, 0.25 in cells) is 3/4 of cell 0 and 1/4 of cell 1; pixel 0 clamps to cell 0.
  GateMap map{2, 2, {0.0f, 1.0f, 0.5f, 0.25f}};
  EXPECT_FLOAT_EQ(sample(map, 0, 0, 4, 4, Upsampling::kBilinear), 0.0f);
  EXPECT_FLOAT_EQ(sample(map, 1, 0, 4, 4, Upsampling::kBilinear), 0.25f);
  EXPECT_FLOAT_EQ(sample(map, 2, 0, 4, 4, Upsampling::kBilinear), 0.75f);
  EXPECT_FLOAT_EQ(sample(map, 3, 3, 4, 4, Upsampling::kBilinear), 0.25f);
  // (1, 1): rows mixed 3:1 too → 0.75·(0.75·0 + 0.25·1) + 0.25·(0.75·0.5 + 0.25·0.25).
  EXPECT_FLOAT_EQ(sample(map, 1, 1, 4, 4, Upsampling::kBilinear), 0.75f * 0.25f + 0.25f * 0.4375f);
  EXPECT_FLOAT_EQ(sample(map, 1, 1, 4, 4, Upsampling::kNearest), 0.0f);
  QImage image(4, 4, QImage::Format_RGB32);
  image.fill(qRgb(0, 0, 0));
  const QImage out = compose_overlay(image, map, QStringLiteral("gray"), 1.0, 0, 1, Upsampling::kBilinear);
  EXPECT_EQ(qRed(out.pixel(1, 0)), int(std::lround(255 * 0.25)));
}

TEST(MessageKinds, ColoursComeFromThePaletteAndDiffer) {
  QPalette light, dark;
  light.setColor(QPalette::Window, QColor(239, 239, 239));
  dark.setColor(QPalette::Window, QColor(40, 40, 40));
  // Each kind a different colour; on a dark window a dark bar, on a light one a light bar.
  QSet<QRgb> seen;
  for (auto kind : {MessageKind::kInformation, MessageKind::kPositive, MessageKind::kWarning, MessageKind::kError}) {
    seen.insert(MessageBar::background(kind, light).rgb());
    EXPECT_GT(MessageBar::background(kind, light).lightness(), 150);
    EXPECT_LT(MessageBar::background(kind, dark).lightness(), 110);
  }
  EXPECT_EQ(seen.size(), 4);
}

TEST(MessageKinds, TheBarKeepsAHistoryAndRunsItsActionOnce) {
  MessageBar bar;
  int undone = 0;
  bar.show(QStringLiteral("first"), MessageKind::kError);
  bar.show(QStringLiteral("moved"), MessageKind::kInformation, QStringLiteral("Undo"), [&] { ++undone; });
  EXPECT_EQ(bar.text(), QStringLiteral("moved"));
  ASSERT_EQ(bar.history().size(), 2);
  EXPECT_EQ(bar.history()[0].text, QStringLiteral("first"));
  EXPECT_EQ(bar.history()[0].kind, MessageKind::kError);
  bar.triggerAction();
  bar.triggerAction();
  EXPECT_EQ(undone, 1);
  EXPECT_TRUE(bar.text().isEmpty());  // hidden after the action
}

TEST(BlockStem, TheLettersEveryBlockStartsWith) {
  EXPECT_EQ(block_stem({QStringLiteral("layer1.0"), QStringLiteral("layer3.2"), QStringLiteral("layer10.1")}),
            QStringLiteral("layer"));
  EXPECT_EQ(block_stem({QStringLiteral("stage2.0"), QStringLiteral("stage4.3")}), QStringLiteral("stage"));
  EXPECT_EQ(block_stem({QStringLiteral("layer1.0"), QStringLiteral("stage2.0")}), QString());  // two kinds
  EXPECT_EQ(block_stem({QStringLiteral("layer1"), QStringLiteral("layer")}), QString());  // a name all stem
  EXPECT_EQ(block_stem({QStringLiteral("1.0"), QStringLiteral("1.1")}), QString());
  EXPECT_EQ(block_stem({}), QString());
}

}  // namespace
}  // namespace gex::ui
