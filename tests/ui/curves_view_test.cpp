// The Curves view offscreen, against values worked out here: its smoothing (the debiased EMA by
// hand), log scale, and export (every point as CSV, pictures with the legend, the dialogs).
#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QFileDialog>
#include <QImage>
#include <QMenu>
#include <QTemporaryDir>
#include <QTimer>
#include <QToolButton>

#include <cmath>

#include "curve_plot.h"
#include "curves_view.h"
#include "plot_style.h"
#include "qcp.h"
#include "run_catalog.h"
#include "train/run_dir.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::shipped;

TEST_F(App, CurvesSmoothingSliderFollowsTheDebiasedEmaByHand) {
  const QString run = shipped(QStringLiteral("baseline"));
  auto* curves = window->curvesView();
  curves->setGroups({});  // the shipped study's, checked at start
  curves->setRuns({run});
  curves->smoothingSlider()->setValue(90);
  std::vector<double> loss;
  for (const auto& m : read_metrics((run + QStringLiteral("/metrics.csv")).toStdString()))
    if (m.split == "train") loss.push_back(m.loss);
  // s_t = 0.9 s_{t−1} + 0.1 y_t, shown as s_t / (1 − 0.9^t).
  double s = 0, weight = 0;
  auto* smooth = curves->lossPlot()->plot()->graph(1);  // raw, smoothed, best per series
  ASSERT_EQ(smooth->dataCount(), int(loss.size()));
  for (size_t i = 0; i < loss.size(); ++i) {
    s = 0.9 * s + 0.1 * loss[i];
    weight = 0.9 * weight + 0.1;
    ASSERT_NEAR(smooth->data()->at(int(i))->value, s / weight, 1e-12) << i;
  }
  curves->smoothingSlider()->setValue(0);
  for (size_t i = 0; i < loss.size(); ++i) ASSERT_DOUBLE_EQ(smooth->data()->at(int(i))->value, loss[i]);
  // Log scale: on the loss axis, with a log ticker; off again.
  curves->logScaleBox()->setChecked(true);
  EXPECT_EQ(curves->lossPlot()->plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
  EXPECT_TRUE(curves->lossPlot()->plot()->yAxis->ticker().dynamicCast<QCPAxisTickerLog>());
  curves->logScaleBox()->setChecked(false);
  EXPECT_EQ(curves->lossPlot()->plot()->yAxis->scaleType(), QCPAxis::stLinear);
}

TEST_F(App, CurvesExportWritesEveryPointAndPicturesWithTheLegend) {
  const QString run = shipped(QStringLiteral("theta-plus"));
  auto* curves = window->curvesView();
  curves->setGroups({});  // the shipped study's, checked at start
  curves->setRuns({run});
  QTemporaryDir out;
  ASSERT_TRUE(curves->exportCsv(out.filePath(QStringLiteral("all.csv"))));
  EXPECT_EQ(window->messageBar()->kind(), MessageKind::kPositive);
  // Every row of metrics.csv, by hand: train rows as loss and train top-1, val rows as val top-1.
  QStringList expected = {QStringLiteral("run,series,x,y")};
  const auto rows = read_metrics((run + QStringLiteral("/metrics.csv")).toStdString());
  const QString name = window->catalog()->find(run)->name;  // a study's run: "<study> · <variant> · seed-1"
  ASSERT_TRUE(name.endsWith(QStringLiteral(" · theta-plus · seed-1"))) << name.toStdString();
  for (const auto& m : rows)
    if (m.split == "train") expected << QStringLiteral("%1,train loss,%2,%3").arg(name).arg(double(m.step), 0, 'g', 10).arg(m.loss, 0, 'g', 10);
  for (const auto& m : rows)
    if (m.split == "train") expected << QStringLiteral("%1,train top-1,%2,%3").arg(name).arg(m.epoch, 0, 'g', 10).arg(100 * m.top1_error, 0, 'g', 10);
  for (const auto& m : rows)
    if (m.split == "val") expected << QStringLiteral("%1,val top-1,%2,%3").arg(name).arg(m.epoch, 0, 'g', 10).arg(100 * m.top1_error, 0, 'g', 10);
  const QStringList written = QString::fromUtf8(test::read_text(out.filePath(QStringLiteral("all.csv")))).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  EXPECT_EQ(written, expected);
  // Pictures: a PNG of the plot's size with the run's colour in it; an SVG with the legend's text;
  // a PDF.
  ASSERT_TRUE(curves->exportImage(curves->lossPlot(), out.filePath(QStringLiteral("loss.png"))));
  const QImage png(out.filePath(QStringLiteral("loss.png")));
  ASSERT_FALSE(png.isNull());
  EXPECT_GE(png.width(), 900);
  const QColor colour = run_color(window->catalog()->find(run)->colour);
  int coloured = 0;
  for (int y = 0; y < png.height(); ++y)
    for (int x = 0; x < png.width(); ++x) {
      const QColor p = png.pixelColor(x, y);
      coloured += std::abs(p.red() - colour.red()) + std::abs(p.green() - colour.green()) + std::abs(p.blue() - colour.blue()) < 30;
    }
  EXPECT_GT(coloured, 60) << "the curve's colour is not in the picture";
  ASSERT_TRUE(curves->exportImage(curves->errorPlot(), out.filePath(QStringLiteral("error.svg"))));
  const QByteArray svg = test::read_text(out.filePath(QStringLiteral("error.svg")));
  EXPECT_TRUE(svg.contains("<svg"));
  EXPECT_TRUE(svg.contains(name.toUtf8())) << "no legend entry in the SVG";
  EXPECT_TRUE(svg.contains("epoch"));
  ASSERT_TRUE(curves->exportImage(curves->errorPlot(), out.filePath(QStringLiteral("error.pdf"))));
  EXPECT_TRUE(test::read_text(out.filePath(QStringLiteral("error.pdf"))).startsWith("%PDF-"));
  EXPECT_FALSE(curves->exportImage(curves->errorPlot(), out.filePath(QStringLiteral("error.bmpx"))));
  EXPECT_EQ(window->messageBar()->kind(), MessageKind::kError);
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("error.bmpx")));

  // The Export menu's first dialog opens in the home folder, proposing "loss.png" there (it opened
  // in "/", an empty remembered folder joined to the name).
  QToolButton* exportButton = nullptr;
  for (auto* b : curves->findChildren<QToolButton*>())
    if (b->menu()) exportButton = b;
  ASSERT_TRUE(exportButton);
  QString proposed;
  auto* timer = new QTimer(curves);
  QObject::connect(timer, &QTimer::timeout, timer, [&] {
    if (auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget())) {
      proposed = dialog->selectedFiles().value(0);
      dialog->reject();
      timer->stop();
    }
  });
  timer->start(50);
  exportButton->menu()->actions().value(0)->trigger();
  EXPECT_EQ(proposed.toStdString(), QDir::home().filePath(QStringLiteral("loss.png")).toStdString());
}

}  // namespace
}  // namespace gex::ui
