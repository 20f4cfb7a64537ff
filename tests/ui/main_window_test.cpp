// The application offscreen, view by view, against values computed here through the engine.
#include <gtest/gtest.h>

#include <QDir>
#include <QFile>
#include <QTemporaryDir>

#include <cmath>
#include <fstream>

#include "analysis/gate_maps.h"
#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "curve_plot.h"
#include "curves_view.h"
#include "data/dataset.h"
#include "gates_view.h"
#include "main_window.h"
#include "models/registry.h"
#include "pruning_view.h"
#include "qcp.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/trainer.h"
#include "train_view.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::distinct_colours;
using test::wait_until;

QString shipped(const QString& name) { return MainWindow::resourceDirectory() + QStringLiteral("/default-runs/") + name; }
QString sample(const QString& name) { return MainWindow::resourceDirectory() + QStringLiteral("/samples/") + name; }

class App : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(runs.isValid());
    ASSERT_FALSE(MainWindow::resourceDirectory().isEmpty());
    window = std::make_unique<MainWindow>(runs.path());
    window->show();
  }
  void TearDown() override {
    wait_until([&] { return !window->isBusy(); }, 120000);
    window.reset();
  }
  QTemporaryDir runs;
  std::unique_ptr<MainWindow> window;
};

TEST_F(App, EveryViewRendersSomething) {
  for (const auto& view : MainWindow::viewNames()) {
    ASSERT_TRUE(window->showView(view));
    QApplication::processEvents();
    const QImage image = window->grab().toImage();
    EXPECT_GE(image.width(), 800);
    EXPECT_GT(distinct_colours(image), 20) << view.toStdString();
  }
  EXPECT_FALSE(window->showView(QStringLiteral("nonsense")));
}

TEST_F(App, ShippedRunsAreCheckedAndTheirPointsPlotted) {
  const QString run = QFileInfo(shipped(QStringLiteral("resnet20-ge-theta-minus"))).canonicalFilePath();
  const auto rows = read_metrics((run + QStringLiteral("/metrics.csv")).toStdString());
  int train = 0, val = 0;
  for (const auto& r : rows) (r.split == "train" ? train : val)++;
  ASSERT_GT(train, 10);
  auto* curves = window->curvesView();
  curves->setRuns({run});
  ASSERT_EQ(curves->lossPlot()->series().size(), 1u);
  EXPECT_EQ(curves->lossPlot()->pointCount(0), train);
  ASSERT_EQ(curves->errorPlot()->series().size(), 2u);  // train and val top-1
  EXPECT_EQ(curves->errorPlot()->pointCount(0), train);
  EXPECT_EQ(curves->errorPlot()->pointCount(1), val);
  EXPECT_TRUE(window->browser()->checkedRuns().contains(run));
}

TEST_F(App, ARunWrittenByAnotherProcessAppearsAndGrowsLive) {
  TrainConfig config;
  const QString dir = runs.filePath(QStringLiteral("from-a-terminal"));
  auto run = RunDirectory::create(dir.toStdString(), config, "cpu");
  run.append_metrics({{20, 0.1, "train", 2.0, 0.8, 0.3, 0.1, 900, 1}});
  ASSERT_TRUE(wait_until([&] { return window->catalog()->find(dir) != nullptr; }, 10000));
  EXPECT_EQ(window->catalog()->find(dir)->metrics.size(), 1u);
  run.append_metrics({{40, 0.2, "train", 1.5, 0.6, 0.2, 0.1, 900, 2}, {40, 0.2, "val", 1.4, 0.5, 0.2, 0.1, 0, 3}});
  ASSERT_TRUE(wait_until([&] { return window->catalog()->find(dir)->metrics.size() == 3u; }, 10000));
  EXPECT_DOUBLE_EQ(window->catalog()->find(dir)->best_error, 0.5);

  // Marked running but silent for 20 minutes: a process that died; resumable, shown as stalled.
  run.set_status("running");
  ASSERT_TRUE(wait_until([&] { return window->catalog()->find(dir)->status == QStringLiteral("running"); }, 10000));
  EXPECT_FALSE(window->catalog()->find(dir)->stalled());
  EXPECT_FALSE(window->trainView()->resume(dir));  // another process may still be training it
  for (const char* f : {"/run.json", "/metrics.csv"}) {
    QFile file(dir + QLatin1String(f));
    ASSERT_TRUE(file.open(QIODevice::ReadWrite));
    ASSERT_TRUE(file.setFileTime(QDateTime::currentDateTime().addSecs(-20 * 60), QFileDevice::FileModificationTime));
  }
  window->catalog()->rescan();
  EXPECT_TRUE(window->catalog()->find(dir)->stalled());
}

TEST_F(App, TrainingFromTheTrainViewStreamsPausesStopsAndResumes) {
  ASSERT_TRUE(window->showView(QStringLiteral("train")));
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
  auto* train = window->trainView();
  TrainConfig config = train->config();
  config.data = "synthetic";
  config.steps = 160;
  config.epochs = 0;
  config.batch = 32;
  config.threads = 2;
  train->setConfig(config);
  ASSERT_TRUE(train->start(runs.filePath(QStringLiteral("gui-run"))));
  EXPECT_TRUE(train->isTraining());
  ASSERT_TRUE(wait_until([&] { return train->lossPlot()->pointCount(0) >= 2; }));
  train->setPaused(true);
  wait_until([] { return false; }, 600);  // what was in flight arrives
  const int paused = train->lossPlot()->pointCount(0);
  wait_until([] { return false; }, 1200);
  EXPECT_EQ(train->lossPlot()->pointCount(0), paused) << "points arrived while paused";
  train->setPaused(false);
  ASSERT_TRUE(wait_until([&] { return train->lossPlot()->pointCount(0) > paused; }));
  train->stop();
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }));
  const QString dir = QFileInfo(runs.filePath(QStringLiteral("gui-run"))).canonicalFilePath();
  EXPECT_TRUE(QFileInfo::exists(dir + QStringLiteral("/checkpoints/last.safetensors")));
  EXPECT_EQ(RunDirectory::open(dir.toStdString()).status(), "stopped");
  window->catalog()->rescan();
  ASSERT_TRUE(train->resume(dir));
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 120000));
  EXPECT_EQ(RunDirectory::open(dir.toStdString()).status(), "finished") << train->progressText().toStdString();
  const auto rows = read_metrics((dir + QStringLiteral("/metrics.csv")).toStdString());
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().step, 160);
}

// A GE-θ⁻ with extent 2, so the gate has structure to check cell by cell.
QString local_checkpoint(const QString& dir) {
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  spec.extent = 2;
  spec.in_channels = 1;
  spec.input_size = 28;
  torch::manual_seed(3);
  auto net = build_network(spec);
  CheckpointInfo info;
  info.model = spec;
  info.preprocess = Preprocess::identity(1, 28, 10);
  info.preprocess.mean = {72.9};
  info.preprocess.std = {90.0};
  const QString path = dir + QStringLiteral("/ge-e2.safetensors");
  save_checkpoint(path.toStdString(), *net, info);
  return path;
}

TEST_F(App, GatesViewShowsTheEnginesGatesPixelByPixel) {
  const QString ckpt = local_checkpoint(runs.path());
  const QString image = sample(QStringLiteral("fashion-7-sneaker.png"));
  auto* gates = window->gatesView();
  gates->setModel(ckpt, 0);
  gates->addImages({image});
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(0) && gates->result(0)->model == ckpt; }));
  gates->setLayer(4);
  gates->setChannel(-1);
  const QImage shown = gates->overlay(0);
  ASSERT_FALSE(shown.isNull());

  // The same image through the engine, here: the channel mean of layer 4's gate.
  auto c = load_checkpoint(ckpt.toStdString());
  const auto g = inspect_gates(*c.net, c.info.preprocess, image.toStdString());
  ASSERT_GT(g.gates.size(), 4u);
  const auto mean = g.gates[4].second[0].mean(0);  // H×W
  const int h = int(mean.size(0)), w = int(mean.size(1));
  EXPECT_EQ(gates->shownMap(0).height, h);
  const auto pixels = g.pixels[0];  // 28×28 gray
  const double opacity = 0.6;      // the default
  int checked = 0;
  for (int y = 0; y < shown.height(); y += 7)
    for (int x = 0; x < shown.width(); x += 7) {
      const double v = mean[y * h / shown.height()][x * w / shown.width()].item<double>();
      const int gray = pixels[y * 28 / shown.height()][x * 28 / shown.width()].item<int>();
      const QColor colour = colormap_color(QStringLiteral("viridis"), v);
      const int expected = int(std::lround((1 - opacity) * gray + opacity * colour.red()));
      ASSERT_NEAR(qRed(shown.pixel(x, y)), expected, 1) << "pixel " << x << "," << y;
      ++checked;
    }
  EXPECT_GT(checked, 900);
}

TEST_F(App, ABadImageShowsAMessageAndNothingCrashes) {
  const QString bad = runs.filePath(QStringLiteral("broken.png"));
  QFile f(bad);
  ASSERT_TRUE(f.open(QIODevice::WriteOnly));
  f.write("\x89PNG\r\n\x1a\n not really");
  f.close();
  window->gatesView()->setModel(shipped(QStringLiteral("resnet20-ge-theta-minus/checkpoints/best.safetensors")), 0);
  window->openImages({bad});
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(QStringLiteral("broken.png")); }, 30000))
      << window->messageText().toStdString();
  // A truncated checkpoint: the message names it, and the view does not show the old model's gates.
  QFile good(shipped(QStringLiteral("resnet20-ge-theta-plus/checkpoints/best.safetensors")));
  ASSERT_TRUE(good.open(QIODevice::ReadOnly));
  const QString truncated = runs.filePath(QStringLiteral("truncated.safetensors"));
  QFile cut(truncated);
  ASSERT_TRUE(cut.open(QIODevice::WriteOnly));
  cut.write(good.read(3000));
  cut.close();
  ASSERT_TRUE(window->openPath(truncated));
  window->openImages({sample(QStringLiteral("fashion-1-trouser.png"))});
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(QStringLiteral("truncated.safetensors")); }, 30000))
      << window->messageText().toStdString();
  wait_until([&] { return !window->gatesView()->isBusy(); });
  EXPECT_TRUE(window->gatesView()->overlay(0).isNull());
  window->openImages({runs.filePath(QStringLiteral("missing.png"))});
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("missing.png")));
  EXPECT_FALSE(window->openPath(runs.filePath(QStringLiteral("nothing-here"))));
}

TEST_F(App, SelectivityViewPlotsTheEnginesSelectivity) {
  const QString run = QFileInfo(shipped(QStringLiteral("resnet20-ge-theta-plus"))).canonicalFilePath();
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* view = window->selectivityView();
  view->setLimit(300);
  view->setRuns({run});
  ASSERT_TRUE(wait_until([&] { return !view->isBusy() && view->data().count(run); }, 120000));
  const auto& layers = view->data().at(run);
  ASSERT_EQ(layers.size(), 9u);  // ResNet-20: 3 stages × 3 blocks

  // Independently: the engine on the same 300 test images.
  auto c = load_checkpoint((run + QStringLiteral("/checkpoints/best.safetensors")).toStdString());
  const auto data = load_dataset("fashion-mnist");
  SelectivityOptions options;
  options.limit = 300;
  const auto expected = class_selectivity(*c.net, data.test, c.info.preprocess, options);
  size_t unit = 0;
  for (const auto& layer : layers)
    for (double csi : layer.csi) {
      ASSERT_LT(unit, expected.units.size());
      EXPECT_EQ(layer.layer.toStdString(), expected.units[unit].layer);
      EXPECT_NEAR(csi, expected.units[unit].csi, 1e-5);
      ++unit;
    }
  EXPECT_EQ(unit, expected.units.size());
  EXPECT_EQ(view->boxPlot()->plottableCount(), 1);
}

TEST_F(App, PruningViewDrawsTheEnginesCurveAsItGrows) {
  const QString run = QFileInfo(shipped(QStringLiteral("resnet20-baseline"))).canonicalFilePath();
  auto* view = window->pruningView();
  view->setRuns({run});
  view->setBlock(QStringLiteral("layer3.2"));
  view->setOrders({QStringLiteral("l1-desc")});
  view->setLimit(200);
  view->compute();
  const auto key = std::make_pair(run, QStringLiteral("l1-desc"));
  ASSERT_TRUE(wait_until([&] { return !view->isBusy() && view->curves().count(key) && view->curves().at(key).size() == 11; }, 120000));
  const auto& points = view->curves().at(key);
  EXPECT_DOUBLE_EQ(points.front().ratio, 0.0);
  EXPECT_DOUBLE_EQ(points.back().ratio, 1.0);
  // The cached CSV holds the same rows, and a second view reads them back.
  const RunRecord* r = window->catalog()->find(run);
  ASSERT_TRUE(r);
  const auto csv = read_pruning(analysis_path(*r, pruning_file(QStringLiteral("layer3.2"), QStringLiteral("l1-desc"), 200)));
  ASSERT_EQ(csv.size(), points.size());
  for (size_t i = 0; i < csv.size(); ++i) EXPECT_NEAR(csv[i].top1_error, points[i].top1_error, 1e-6);
  // Ratio 0 is the unpruned model: its error on these 200 images, evaluated here.
  auto c = load_checkpoint((run + QStringLiteral("/checkpoints/best.safetensors")).toStdString());
  const auto data = load_dataset("fashion-mnist");
  PruneOptions none;
  none.blocks = {"layer3.2"};
  none.ratios = {0};
  none.limit = 200;
  const auto base = pruning_curve(*c.net, data.test, c.info.preprocess, none);
  EXPECT_NEAR(points.front().top1_error, base.front().top1_error, 1e-9);
}

}  // namespace
}  // namespace gex::ui
