// The analysis views offscreen, against values worked out here: hand-made analysis CSVs for the
// Selectivity, Pruning and Compare plots, and probes as they arrive. (The Gates view:
// gates_view_test.cpp; Curves: curves_view_test.cpp.)
#include <gtest/gtest.h>

#include <QCheckBox>
#include <QComboBox>
#include <QDateTime>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSlider>
#include <QTableWidget>

#include <cmath>

#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "errors.h"
#include "compare_view.h"
#include "data/dataset.h"
#include "job_bar.h"
#include "plot_style.h"
#include "probe_timeline.h"
#include "pruning_view.h"
#include "qcp.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "train_process.h"
#include "train/checkpoint.h"
#include "train/evaluate.h"
#include "train/run_dir.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::shipped;
using test::wait_until;

TEST_F(App, SelectivityViewDrawsAHandMadeCsv) {
  // Two blocks: five units of 0.1 … 0.5, and three of 0.0, 0.6, 0.9.
  const QString run = scannedCopyOfShipped(QStringLiteral("baseline"));  // without probes
  const RunRecord* r = window->catalog()->find(run);
  ASSERT_TRUE(r);
  test::write_text(analysis_path(*r, selectivity_file(777)),
                   "layer,unit,csi,max_class,mean_activation\n"
                   "layer1.0,0,0.1,0,1\nlayer1.0,1,0.2,0,1\nlayer1.0,2,0.3,0,1\nlayer1.0,3,0.4,0,1\nlayer1.0,4,0.5,0,1\n"
                   "layer3.2,0,0.0,0,1\nlayer3.2,1,0.6,0,1\nlayer3.2,2,0.9,0,1\n");
  auto* view = window->selectivityView();
  view->setLimit(777);
  view->setRuns({run});
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  ASSERT_FALSE(view->isBusy());  // read, not computed
  ASSERT_EQ(view->data().at(run).size(), 2u);
  auto* boxes = qobject_cast<QCPStatisticalBox*>(view->boxPlot()->plottable(0));
  ASSERT_NE(boxes, nullptr);
  ASSERT_EQ(boxes->data()->size(), 2);
  // Quartiles by linear interpolation: (0.2, 0.3, 0.4) and (0.3, 0.6, 0.75).
  const auto first = boxes->data()->at(0), second = boxes->data()->at(1);
  EXPECT_NEAR(first->lowerQuartile, 0.2, 1e-12);
  EXPECT_NEAR(first->median, 0.3, 1e-12);
  EXPECT_NEAR(first->upperQuartile, 0.4, 1e-12);
  EXPECT_NEAR(second->lowerQuartile, 0.3, 1e-12);
  EXPECT_NEAR(second->median, 0.6, 1e-12);
  EXPECT_NEAR(second->upperQuartile, 0.75, 1e-12);
  EXPECT_EQ(boxes->pen().color(), run_color(r->colour));
  // The histogram of the last block: 20 bins of %; 0.0, 0.6 and 0.9 land in bins 0, 12 and 18.
  auto* hist = view->histogramPlot()->graph(0);
  ASSERT_EQ(hist->dataCount(), 20);
  for (int b = 0; b < 20; ++b)
    EXPECT_NEAR(hist->data()->at(b)->value, (b == 0 || b == 12 || b == 18) ? 100.0 / 3 : 0.0, 1e-9) << b;
  // One legend for the runs (the boxes'); the blocks' stem said once on the axis, ticks level.
  EXPECT_EQ(view->boxPlot()->legend->itemCount(), 1);
  EXPECT_EQ(view->histogramPlot()->legend->itemCount(), 0);
  EXPECT_TRUE(view->boxPlot()->xAxis->label().contains(QStringLiteral("layer…")));
  const auto ticks = qSharedPointerDynamicCast<QCPAxisTickerText>(view->boxPlot()->xAxis->ticker());
  ASSERT_TRUE(ticks);
  EXPECT_EQ(ticks->ticks().values(), QStringList({QStringLiteral("1.0"), QStringLiteral("3.2")}));
  EXPECT_EQ(view->boxPlot()->xAxis->tickLabelRotation(), 0.0);
}

TEST_F(App, SelectivityViewPlotsTheEnginesSelectivity) {
  const QString run = scannedCopyOfShipped(QStringLiteral("theta-plus"));  // without probes
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
}

// Runs unchecked while their analyses wait for their turn: those jobs are dropped, not run (one
// at a time, they held back what is shown now by as long as they took).
TEST_F(App, SelectivityDropsTheAnalysesOfRunsNoLongerShown) {
  QStringList copies;
  for (const char* variant : {"baseline", "theta-minus", "theta-plus"})
    copies << copyOfShipped(QLatin1String(variant), QStringLiteral("copy-%1").arg(QLatin1String(variant)));
  window->catalog()->rescan();
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* view = window->selectivityView();
  view->setLimit(300);
  view->setRuns(copies);  // the first computes, the others wait
  ASSERT_TRUE(view->isBusy());
  view->setRuns({copies[0]});
  ASSERT_TRUE(wait_until([&] { return !view->isBusy(); }, 120000));
  EXPECT_TRUE(view->data().count(copies[0]));
  for (int i = 1; i < 3; ++i)
    EXPECT_FALSE(QFileInfo::exists(analysis_path(*window->catalog()->find(copies[i]), selectivity_file(300))))
        << copies[i].toStdString();
}

TEST_F(App, PruningViewDrawsAHandMadeCsvWithTheRandomBand) {
  const QString run = scannedCopyOfShipped(QStringLiteral("theta-minus"));  // without probes
  const RunRecord* r = window->catalog()->find(run);
  test::write_text(analysis_path(*r, pruning_file(QStringLiteral("layer2.1"), QStringLiteral("random"), 555)),
                   "layer,order,ratio,repeat,top1_error,top5_error\n"
                   "layer2.1,random,0,0,0.10,0.01\nlayer2.1,random,0,1,0.10,0.01\nlayer2.1,random,0,2,0.10,0.01\n"
                   "layer2.1,random,0.5,0,0.20,0.02\nlayer2.1,random,0.5,1,0.35,0.03\nlayer2.1,random,0.5,2,0.26,0.02\n"
                   "layer2.1,random,1,0,0.90,0.5\nlayer2.1,random,1,1,0.90,0.5\nlayer2.1,random,1,2,0.90,0.5\n");
  auto* view = window->pruningView();
  view->setLimit(555);
  view->setOrders({QStringLiteral("random")});
  view->setRuns({run});
  ASSERT_TRUE(wait_until([&] { return view->blockBox()->findText(QStringLiteral("layer2.1")) >= 0; }, 30000));
  view->setBlock(QStringLiteral("layer2.1"));
  ASSERT_TRUE(window->showView(QStringLiteral("pruning")));
  ASSERT_FALSE(view->isBusy());  // read, not computed
  // The mean line (first graph) and the band (min and max) by hand.
  QCPGraph* mean = nullptr;
  std::vector<QCPGraph*> band;
  for (int i = 0; i < view->plot()->graphCount(); ++i) {
    auto* g = view->plot()->graph(i);
    if (g->pen().style() == Qt::NoPen) band.push_back(g);
    else mean = g;
  }
  ASSERT_NE(mean, nullptr);
  ASSERT_EQ(mean->dataCount(), 3);
  EXPECT_NEAR(mean->data()->at(1)->value, 100 * (0.20 + 0.35 + 0.26) / 3, 1e-9);
  EXPECT_NEAR(mean->data()->at(2)->value, 90.0, 1e-9);
  ASSERT_EQ(band.size(), 2u);
  EXPECT_NEAR(band[0]->data()->at(1)->value, 20.0, 1e-9);
  EXPECT_NEAR(band[1]->data()->at(1)->value, 35.0, 1e-9);
  EXPECT_EQ(mean->pen().color(), run_color(r->colour));
  // Every order has a tooltip that says what it prunes first.
  for (auto* box : view->findChildren<QCheckBox*>())
    EXPECT_FALSE(box->toolTip().isEmpty()) << box->text().toStdString();
}

// Over training: each run's name under its own columns, elided to their width: a run of one probe
// beside one of eleven had its full name run into its neighbours'.
TEST_F(App, SelectivityOverTrainingNamesEachRunWithinItsColumns) {
  const QString one = copyOfShipped(QStringLiteral("baseline"), QStringLiteral("a-run-with-a-rather-long-name-and-one-probe"));
  const QString dir = one + QStringLiteral("/probes/step-00000100");
  test::write_text(dir + QStringLiteral("/selectivity.csv"),
                   "layer,unit,csi,max_class,mean_activation\nlayer1.0,0,0.2,0,1\nlayer3.2,0,0.9,0,1\n");
  test::write_text(one + QStringLiteral("/probes/index.csv"), "step,epoch,wall_seconds,top1_error,dir\n100,0.2,1,0.1,step-00000100\n");
  window->catalog()->rescan();
  const QString shortRun = QFileInfo(one).canonicalFilePath(), longRun = test::shipped(QStringLiteral("theta-minus"));
  ASSERT_TRUE(window->catalog()->find(shortRun) && window->catalog()->find(longRun));
  auto* view = window->selectivityView();
  view->setRuns({shortRun, longRun});
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* plot = view->overTrainingPlot();
  const auto labels = [&] {
    const auto ticks = qSharedPointerDynamicCast<QCPAxisTickerText>(plot->xAxis->ticker());
    return ticks ? ticks->ticks() : QMap<double, QString>();
  };
  ASSERT_TRUE(wait_until([&] { return labels().size() == 2; }, 10000));
  test::settle(300);  // the second pass, with the laid-out width
  const QMap<double, QString> shown = labels();
  const QString full = window->catalog()->find(shortRun)->shortName();
  const QFontMetrics metrics(plot->xAxis->tickLabelFont());
  // The one-probe run's columns: its probe and the gap on either side, 2.5 probes wide.
  const double room = std::abs(plot->xAxis->coordToPixel(1.75) - plot->xAxis->coordToPixel(-0.75));
  EXPECT_NE(shown.first().toStdString(), full.toStdString()) << "not elided";
  EXPECT_LE(metrics.horizontalAdvance(shown.first()), room) << shown.first().toStdString();
  EXPECT_EQ(shown.last().toStdString(), window->catalog()->find(longRun)->shortName().toStdString()) << "room enough: the whole name";
}

// Probes written by "another process" (here: files appearing while the views are shown): the
// views follow the newest probe, scrub back on the slider, and stay there as more arrive.
TEST_F(App, SelectivityAndPruningFollowProbesAsTheyArriveAndScrubBack) {
  const QString run = copyOfShipped(QStringLiteral("baseline"), QStringLiteral("probed"));
  QByteArray index = "step,epoch,wall_seconds,top1_error,dir\n";
  // Probe k: layer1.0 units {k/10, 2k/10, 3k/10} (median 2k/10), layer3.2 units {0.9} (median 0.9); a
  // pruning curve of layer3.2 whose error at ratio 1 is k/10 (csi-desc) and 0.5 (random).
  const auto add_probe = [&](int k) {
    const QString dir = run + QStringLiteral("/probes/step-%1").arg(100 * k, 8, 10, QLatin1Char('0'));
    test::write_text(dir + QStringLiteral("/selectivity.csv"),
                     QStringLiteral("layer,unit,csi,max_class,mean_activation\nlayer1.0,0,%1,0,1\nlayer1.0,1,%2,0,1\n"
                                    "layer1.0,2,%3,0,1\nlayer3.2,0,0.9,0,1\n")
                         .arg(k / 10.0).arg(2 * k / 10.0).arg(3 * k / 10.0).toUtf8());
    test::write_text(dir + QStringLiteral("/prune-layer3.2.csv"),
                     QStringLiteral("layer,order,ratio,repeat,top1_error,top5_error\nlayer3.2,csi-desc,0,0,0.1,0\n"
                                    "layer3.2,csi-desc,1,0,%1,0\nlayer3.2,random,0,0,0.1,0\nlayer3.2,random,1,0,0.5,0\n")
                         .arg(k / 10.0).toUtf8());
    index += QStringLiteral("%1,%2,1,0.1,step-%3\n").arg(100 * k).arg(k / 10.0).arg(100 * k, 8, 10, QLatin1Char('0')).toUtf8();
    test::write_text(run + QStringLiteral("/probes/index.csv"), index);  // the row last, as the trainer writes it
  };
  add_probe(1);
  add_probe(2);
  window->catalog()->rescan();
  ASSERT_TRUE(window->catalog()->find(QFileInfo(run).canonicalFilePath()));
  const QString path = QFileInfo(run).canonicalFilePath();
  auto* view = window->selectivityView();
  view->setRuns({path});
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* timeline = view->timeline();
  ASSERT_EQ(timeline->steps(), (std::vector<int64_t>{100, 200}));
  EXPECT_EQ(timeline->currentStep(), 200);
  ASSERT_EQ(view->data().at(path).size(), 2u);
  EXPECT_NEAR(view->data().at(path)[0].csi[2], 0.6, 1e-12);
  // Over training: the medians by hand, per block per probe.
  EXPECT_EQ(view->overTraining().at(path), (std::vector<std::vector<double>>{{0.2, 0.4}, {0.9, 0.9}}));

  add_probe(3);  // arrives while shown: followed
  ASSERT_TRUE(wait_until([&] { return timeline->currentStep() == 300; }, 10000));
  EXPECT_NEAR(view->data().at(path)[0].csi[0], 0.3, 1e-12);
  timeline->slider()->setValue(0);  // scrub back
  EXPECT_EQ(timeline->currentStep(), 100);
  EXPECT_NEAR(view->data().at(path)[0].csi[1], 0.2, 1e-12);
  add_probe(4);  // the user moved the slider: the view stays at step 100
  ASSERT_TRUE(wait_until([&] { return timeline->steps().size() == 4; }, 10000));
  EXPECT_EQ(timeline->currentStep(), 100);
  EXPECT_NEAR(view->data().at(path)[0].csi[1], 0.2, 1e-12);
  // The probe of step 100 recorded again (a run resumed on another number of processes): the new file is shown.
  test::write_text(run + QStringLiteral("/probes/step-00000100/selectivity.csv"),
                   "layer,unit,csi,max_class,mean_activation\nlayer1.0,0,0.125,0,1\nlayer1.0,1,0.25,0,1\n"
                   "layer1.0,2,0.375,0,1\nlayer3.2,0,0.875,0,1\n");
  view->setRuns({path});
  EXPECT_NEAR(view->data().at(path)[0].csi[1], 0.25, 1e-12);

  // Pruning: the curve at the slider's step, the final one (step 400) faint behind it.
  auto* pruning = window->pruningView();
  pruning->setOrders({QStringLiteral("csi-desc")});
  pruning->setRuns({path});
  ASSERT_TRUE(wait_until([&] { return pruning->blockBox()->findText(QStringLiteral("layer3.2")) >= 0; }, 30000));
  pruning->setBlock(QStringLiteral("layer3.2"));
  ASSERT_TRUE(window->showView(QStringLiteral("pruning")));
  pruning->timeline()->setCurrentStep(200);
  ASSERT_EQ(pruning->curves().size(), 1u);
  EXPECT_NEAR(pruning->curves().begin()->second.back().top1_error, 0.2, 1e-12);
  ASSERT_EQ(pruning->finalCurves().size(), 1u);
  EXPECT_NEAR(pruning->finalCurves().begin()->second.back().top1_error, 0.4, 1e-12);
  EXPECT_FALSE(pruning->isBusy());  // read from the probes, nothing computed
  EXPECT_EQ(view->timeline()->currentStep(), 200);  // one step for every view: Selectivity moved too
  // An order the probes did not record: computed at the best checkpoint and drawn (it never was),
  // and the status says so once the job is done.
  pruning->setLimit(200);
  pruning->setOrders({QStringLiteral("csi-desc"), QStringLiteral("l1-desc")});
  ASSERT_TRUE(pruning->isBusy());
  ASSERT_TRUE(wait_until([&] { return !pruning->isBusy(); }, 120000));
  const RunRecord* r = window->catalog()->find(path);
  const auto written = read_pruning(analysis_path(*r, pruning_file(QStringLiteral("layer3.2"), QStringLiteral("l1-desc"), 200)));
  ASSERT_EQ(written.size(), 11u);
  const auto l1 = pruning->curves().find({path, QStringLiteral("l1-desc")});
  ASSERT_NE(l1, pruning->curves().end());
  ASSERT_EQ(l1->second.size(), written.size());
  EXPECT_EQ(l1->second.back().top1_error, written.back().top1_error);
  EXPECT_NEAR(pruning->curves().at({path, QStringLiteral("csi-desc")}).back().top1_error, 0.2, 1e-12);  // still the probe's
  EXPECT_TRUE(pruning->jobBar()->status().contains(QStringLiteral("did not record at the best checkpoint")))
      << pruning->jobBar()->status().toStdString();
}

// A new index.csv whose time and size both changed is read again, also when the time's and the
// size's changes cancel in a folded number (time ^ size, as the poll once compared: the failure seen).
TEST_F(App, ProbeTimelineRereadsAnIndexWhoseTimeAndSizeChangeTogether) {
  const QString run = copyOfShipped(QStringLiteral("baseline"), QStringLiteral("stamped"));
  const QString index = run + QStringLiteral("/probes/index.csv");
  const QByteArray header = "step,epoch,wall_seconds,top1_error,dir\n";
  const QByteArray one = header + "100,0.1,1,0.1,step-00000100\n";
  const QByteArray two = one + "200,0.2,1,0.1,step-00000200\n";
  const auto write = [&](const QByteArray& text, qint64 msecs) {
    test::write_text(index, text);
    QFile file(index);
    ASSERT_TRUE(file.open(QIODevice::ReadWrite));
    ASSERT_TRUE(file.setFileTime(QDateTime::fromMSecsSinceEpoch(msecs), QFileDevice::FileModificationTime));
  };
  const qint64 t1 = 1'700'000'000'000;
  const qint64 t2 = t1 ^ one.size() ^ two.size();  // t1 ^ |one| == t2 ^ |two|
  ASSERT_NE(t1, t2);
  ASSERT_EQ(t1 ^ one.size(), t2 ^ two.size());
  write(one, t1);
  ProbeTimeline timeline(window->catalog());
  timeline.setRuns({run});
  ASSERT_EQ(timeline.steps(), (std::vector<int64_t>{100}));
  write(two, t2);
  ASSERT_EQ(QFileInfo(index).lastModified().toMSecsSinceEpoch(), t2);
  timeline.refresh();
  EXPECT_EQ(timeline.steps(), (std::vector<int64_t>{100, 200}));
}

// A real `gex train` in another process writing probes: the view follows its newest probe, and
// stays where the user scrubbed back to while more arrive.
TEST_F(App, SelectivityFollowsAGexTrainProcessWritingProbesAndStaysWhereScrubbed) {
  const QString run = runs.path() + QStringLiteral("/live");
  QProcess gex;
  gex.start(gex_program(), {QStringLiteral("train"), QStringLiteral("--data"), QStringLiteral("synthetic"),
                            QStringLiteral("--input-size"), QStringLiteral("16"), QStringLiteral("--steps"),
                            QStringLiteral("100000"), QStringLiteral("--batch"), QStringLiteral("16"),
                            QStringLiteral("--probe-every"), QStringLiteral("10"), QStringLiteral("--probe-limit"),
                            QStringLiteral("64"), QStringLiteral("--eval-every"), QStringLiteral("100000"),
                            QStringLiteral("--threads"), QStringLiteral("1"), QStringLiteral("--out"), run});
  ASSERT_TRUE(gex.waitForStarted());
  ASSERT_TRUE(wait_until([&] { return QFileInfo::exists(run + QStringLiteral("/probes/index.csv")); }, 60000));
  const QString path = QFileInfo(run).canonicalFilePath();
  ASSERT_TRUE(wait_until([&] { window->catalog()->rescan(); return window->catalog()->find(path) != nullptr; }, 10000));
  auto* view = window->selectivityView();
  view->setRuns({path});
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* timeline = view->timeline();
  ASSERT_TRUE(wait_until([&] { return timeline->steps().size() >= 3; }, 60000));
  EXPECT_TRUE(timeline->following());
  EXPECT_EQ(timeline->currentStep(), timeline->steps().back());
  ASSERT_TRUE(view->data().count(path));
  timeline->slider()->setValue(0);  // scrub back to the first probe
  EXPECT_EQ(timeline->currentStep(), 10);
  const size_t seen = timeline->steps().size();
  ASSERT_TRUE(wait_until([&] { return timeline->steps().size() > seen + 1; }, 60000));
  EXPECT_EQ(timeline->currentStep(), 10);  // more probes came; the view stayed
  EXPECT_FALSE(timeline->following());
  EXPECT_EQ(view->data().at(path).size(), 9u);  // the probe's nine blocks
  gex.terminate();  // as Stop: `last` saved, exit 130
  ASSERT_TRUE(gex.waitForFinished(60000));
  EXPECT_EQ(gex.exitCode(), 130);
}

TEST_F(App, PruningViewDrawsTheEnginesCurveAsItGrows) {
  const QString run = scannedCopyOfShipped(QStringLiteral("baseline"));  // without probes
  ASSERT_TRUE(window->showView(QStringLiteral("pruning")));
  auto* view = window->pruningView();
  // Order and images first: the view's defaults (CSI and random orders over 2000 images: minutes
  // of work on two cores) would start as soon as it has a run, and this test's curve wait behind them.
  view->setOrders({QStringLiteral("l1-desc")});
  view->setLimit(200);
  view->setRuns({run});
  ASSERT_TRUE(wait_until([&] { return view->blockBox()->findText(QStringLiteral("layer3.2")) >= 0; }, 30000));
  view->setBlock(QStringLiteral("layer3.2"));
  view->compute();
  const auto key = std::make_pair(run, QStringLiteral("l1-desc"));
  ASSERT_TRUE(wait_until([&] { return !view->isBusy() && view->curves().count(key) && view->curves().at(key).size() == 11; }, 120000));
  EXPECT_EQ(view->jobBar()->status(), QStringLiteral("Done; cached in each run's analyses/."));
  const auto& points = view->curves().at(key);
  EXPECT_DOUBLE_EQ(points.front().ratio, 0.0);
  EXPECT_DOUBLE_EQ(points.back().ratio, 1.0);
  const RunRecord* r = window->catalog()->find(run);
  const auto csv = read_pruning(analysis_path(*r, pruning_file(QStringLiteral("layer3.2"), QStringLiteral("l1-desc"), 200)));
  ASSERT_EQ(csv.size(), points.size());
  for (size_t i = 0; i < csv.size(); ++i) EXPECT_NEAR(csv[i].top1_error, points[i].top1_error, 1e-6);
  // Ratio 0 is the unpruned model: its error on these 200 images, evaluated here.
  auto c = load_checkpoint((run + QStringLiteral("/checkpoints/best.safetensors")).toStdString());
  const auto data = load_dataset("fashion-mnist");
  EvalOptions eo;
  eo.limit = 200;
  const auto base = evaluate(*c.net, data.test, BatchMaker(c.info.preprocess, false), eo);
  EXPECT_NEAR(points.front().top1_error, base.top1_error, 1e-9);
}

double best_val_error(const QString& run) {
  double best = 1;
  for (const auto& m : read_metrics((run + QStringLiteral("/metrics.csv")).toStdString()))
    if (m.split == "val") best = std::min(best, m.top1_error);
  return best;
}

// Two runs probed at other steps (another batch size) meet at the same epoch in Compare.
TEST_F(App, CompareViewAlignsProbedRunsAtTheSameEpoch) {
  QStringList paths;
  int id = 0;
  for (const auto& [source, steps_per_epoch] : {std::make_pair("baseline", 200), std::make_pair("theta-minus", 100)}) {
    const QString run = copyOfShipped(QLatin1String(source), QStringLiteral("run-%1").arg(id));
    QByteArray index = "step,epoch,wall_seconds,top1_error,dir\n";
    for (int half = 1; half <= 2; ++half) {  // probes at epochs 0.5 and 1
      const int step = half * steps_per_epoch / 2;
      const QString name = QStringLiteral("step-%1").arg(step, 8, 10, QLatin1Char('0'));
      // One unit whose CSI says which run and which half: 0.1·(run + 1) + 0.01·half.
      test::write_text(run + QStringLiteral("/probes/") + name + QStringLiteral("/selectivity.csv"),
                       QStringLiteral("layer,unit,csi,max_class,mean_activation\nlayer1.0,0,%1,0,1\n")
                           .arg(0.1 * (id + 1) + 0.01 * half).toUtf8());
      // and the pruning curve of the block Compare opens on, so that nothing is computed.
      test::write_text(run + QStringLiteral("/probes/") + name + QStringLiteral("/prune-layer3.2.csv"),
                       QStringLiteral("layer,order,ratio,repeat,top1_error,top5_error\nlayer3.2,csi-desc,0,0,%1,0\n")
                           .arg(0.1 * (id + 1) + 0.01 * half).toUtf8());
      index += QStringLiteral("%1,%2,1,0.2,%3\n").arg(step).arg(half / 2.0).arg(name).toUtf8();
    }
    test::write_text(run + QStringLiteral("/probes/index.csv"), index);
    paths << run;
    ++id;
  }
  window->catalog()->rescan();
  auto* view = window->compareView();
  // Picked before the view is shown (which analyses what it shows: else the shipped study's
  // analyses would start, and the one running be waited for).
  view->setPair(QFileInfo(paths[0]).canonicalFilePath(), QFileInfo(paths[1]).canonicalFilePath());
  ASSERT_TRUE(window->showView(QStringLiteral("compare")));
  auto* timeline = view->timeline();
  EXPECT_NEAR(timeline->currentEpoch(), 1.0, 1e-12);
  ASSERT_EQ(timeline->slider()->maximum(), 1);  // epochs 0.5 and 1, though the steps are 50, 100 and 200
  ASSERT_EQ(view->selectivity(0).size(), 1u);
  EXPECT_NEAR(view->selectivity(0)[0].csi[0], 0.12, 1e-12);  // baseline at step 200
  EXPECT_NEAR(view->selectivity(1)[0].csi[0], 0.22, 1e-12);  // GE at step 100
  timeline->slider()->setValue(0);
  EXPECT_NEAR(view->selectivity(0)[0].csi[0], 0.11, 1e-12);  // step 100
  EXPECT_NEAR(view->selectivity(1)[0].csi[0], 0.21, 1e-12);  // step 50
  const auto has_block = [&] {
    for (auto* box : view->findChildren<QComboBox*>())
      if (box->findText(QStringLiteral("layer3.2")) >= 0) return true;
    return false;
  };
  ASSERT_TRUE(wait_until(has_block, 30000));  // the blocks come from the model-info job
  view->setBlock(QStringLiteral("layer3.2"));
  ASSERT_EQ(view->pruning(1).size(), 1u);
  EXPECT_NEAR(view->pruning(1)[0].top1_error, 0.21, 1e-12);
  EXPECT_FALSE(view->isBusy());  // read from the probes, nothing computed
}

TEST_F(App, CompareViewTabulatesBothRunsAndTheirDifference) {
  // Copies without probes: the panels show the analyses written here, not a probe's.
  const QString base = scannedCopyOfShipped(QStringLiteral("baseline")), ge = scannedCopyOfShipped(QStringLiteral("theta-e4"));
  const RunRecord* rb = window->catalog()->find(base);
  const RunRecord* rg = window->catalog()->find(ge);
  // Hand-made analyses for both, so the panels are checked against numbers written here.
  for (const RunRecord* r : {rb, rg}) {
    const QByteArray s = r == rb ? "0.1\n" : "0.3\n";
    test::write_text(analysis_path(*r, selectivity_file(CompareView::kLimit)),
                     "layer,unit,csi,max_class,mean_activation\nlayer1.0,0," + s.trimmed() + ",0,1\nlayer1.0,1,0.5,0,1\n");
    test::write_text(analysis_path(*r, pruning_file(QStringLiteral("layer1.0"), QStringLiteral("csi-desc"), CompareView::kLimit)),
                     "layer,order,ratio,repeat,top1_error,top5_error\nlayer1.0,csi-desc,0,0,0.1,0\nlayer1.0,csi-desc,1,0,0.7,0\n");
  }
  ASSERT_TRUE(window->showView(QStringLiteral("compare")));
  auto* view = window->compareView();
  view->setPair(base, ge);
  ASSERT_TRUE(wait_until([&] { return !window->isBusy() && view->table()->item(0, 1) &&
                                      view->table()->item(0, 1)->text() != QStringLiteral("…"); }, 60000));
  view->setBlock(QStringLiteral("layer1.0"));
  ASSERT_FALSE(view->isBusy());
  auto* t = view->table();
  // ResNet-20 on 1×28×28: 269,722 parameters (by hand: see Models.ResNet20ParametersByHand); GE-θ
  // at e = 4 adds two depthwise 3×3 + BN per block: 22·C for C = 16, 32, 64, three blocks each.
  const int64_t paramsBase = 269722 - 2 * 16 * 9;  // one input channel instead of three
  const int64_t paramsGE = paramsBase + 22 * 3 * (16 + 32 + 64);
  EXPECT_EQ(t->item(0, 1)->text(), QStringLiteral("%1 M").arg(paramsBase / 1e6, 0, 'f', 3));
  EXPECT_EQ(t->item(1, 1)->text(), QStringLiteral("%1 M").arg(paramsGE / 1e6, 0, 'f', 3));
  EXPECT_EQ(t->item(2, 1)->text(), QStringLiteral("+%1 M").arg((paramsGE - paramsBase) / 1e6, 0, 'f', 3));
  const double eb = best_val_error(base), eg = best_val_error(ge);
  EXPECT_TRUE(t->item(0, 3)->text().startsWith(QStringLiteral("%1 %").arg(100 * eb, 0, 'f', 2)));
  EXPECT_TRUE(t->item(1, 3)->text().startsWith(QStringLiteral("%1 %").arg(100 * eg, 0, 'f', 2)));
  const double points = 100 * (eg - eb);  // signed with "+" or the minus sign "−" (U+2212)
  EXPECT_EQ(t->item(2, 3)->text(), QStringLiteral("%1%2 points")
                                       .arg(points > 0 ? QStringLiteral("+") : QStringLiteral("\u2212"))
                                       .arg(std::abs(points), 0, 'f', 2));
  // Numbers right-aligned, names left.
  EXPECT_TRUE(t->item(0, 1)->textAlignment() & Qt::AlignRight);
  EXPECT_TRUE(t->item(0, 0)->textAlignment() & Qt::AlignLeft);
  // Selectivity medians: (0.1 + 0.5) / 2 and (0.3 + 0.5) / 2; pruning curves as written.
  ASSERT_EQ(view->selectivity(0).size(), 1u);
  QCPGraph* medians[2] = {nullptr, nullptr};
  for (int i = 0, k = 0; i < view->selectivityPlot()->graphCount(); ++i)
    if (view->selectivityPlot()->graph(i)->pen().style() != Qt::NoPen) medians[k++] = view->selectivityPlot()->graph(i);
  ASSERT_TRUE(medians[0] && medians[1]);
  EXPECT_NEAR(medians[0]->data()->at(0)->value, 0.3, 1e-12);
  EXPECT_NEAR(medians[1]->data()->at(0)->value, 0.4, 1e-12);
  EXPECT_EQ(medians[0]->pen().color(), run_color(rb->colour));
  ASSERT_EQ(view->pruningPlot()->graphCount(), 2);
  EXPECT_NEAR(view->pruningPlot()->graph(1)->data()->at(1)->value, 70.0, 1e-9);
  // The marked block's band lies inside the axes (not clipped at their edge).
  bool marker = false;
  for (int i = 0; i < view->selectivityPlot()->itemCount(); ++i)
    if (auto* rect = qobject_cast<QCPItemRect*>(view->selectivityPlot()->item(i))) {
      marker = true;
      EXPECT_LE(rect->topLeft->coords().y(), view->selectivityPlot()->yAxis->range().upper);
      EXPECT_GE(rect->bottomRight->coords().y(), view->selectivityPlot()->yAxis->range().lower);
    }
  EXPECT_TRUE(marker);
  // The blocks' shared stem is said once on the axis, the ticks level: "1.0" under the point.
  const auto ticks = qSharedPointerDynamicCast<QCPAxisTickerText>(view->selectivityPlot()->xAxis->ticker());
  ASSERT_TRUE(ticks);
  EXPECT_EQ(ticks->ticks().values(), QStringList({QStringLiteral("1.0")}));
  EXPECT_TRUE(view->selectivityPlot()->xAxis->label().contains(QStringLiteral("layer…")));
  EXPECT_EQ(view->selectivityPlot()->xAxis->tickLabelRotation(), 0.0);
  EXPECT_TRUE(view->pruningPlot()->xAxis->label().contains(QStringLiteral("layer1.0")));
  // A study's run against a run of no study: the legends name it in full, not "baseline · seed-1".
  // (At layer3.2, which the shipped run's probes prune, given here for the copy: nothing computed.)
  const RunRecord* studyRun = window->catalog()->find(test::shipped(QStringLiteral("baseline")));
  ASSERT_NE(studyRun, nullptr);
  for (const RunRecord* r : {rb, rg})
    test::write_text(analysis_path(*r, pruning_file(QStringLiteral("layer3.2"), QStringLiteral("csi-desc"), CompareView::kLimit)),
                     "layer,order,ratio,repeat,top1_error,top5_error\nlayer3.2,csi-desc,0,0,0.1,0\nlayer3.2,csi-desc,1,0,0.9,0\n");
  view->setBlock(QStringLiteral("layer3.2"));
  view->setPair(studyRun->path, ge);
  ASSERT_TRUE(wait_until([&] { return !window->isBusy() && view->pruningPlot()->graphCount() == 2; }, 60000));
  EXPECT_EQ(view->pruningPlot()->graph(0)->name().toStdString(), studyRun->name.toStdString());
  EXPECT_EQ(view->pruningPlot()->graph(1)->name().toStdString(), rg->name.toStdString());
}

}  // namespace
}  // namespace gex::ui
