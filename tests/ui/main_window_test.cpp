// The application offscreen as a user drives it: the window, the run browser, training from the
// Train view, drops, settings, messages — checked against the engine and against values worked
// out here.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#include <QCheckBox>
#include <QComboBox>
#include <QDockWidget>
#include <QDropEvent>
#include <QMimeData>
#include <QPushButton>
#include <QRegularExpression>
#include <QScrollArea>
#include <QSet>
#include <QScrollBar>
#include <QSpinBox>
#include <QStandardPaths>
#include <QMenuBar>
#include <QTabWidget>
#include <QTest>
#include <QThread>
#include <QTreeWidget>

#include "curve_plot.h"
#include "curves_view.h"
#include "gates_view.h"
#include "job_bar.h"
#include "plot_style.h"
#include "pruning_view.h"
#include "qcp.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/run_dir.h"
#include "train/trainer.h"
#include "train_view.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::settle;
using test::shipped;
using test::sample;
using test::wait_until;

// A short synthetic run, as the Train form would start it.
TrainConfig synthetic_config(int64_t steps) {
  TrainConfig c;
  c.model.attention = AttentionKind::kGE;
  c.data = "synthetic";
  c.steps = steps;
  c.batch = 32;
  c.threads = 2;
  c.eval_limit = 100;
  return c;
}

TEST_F(App, EveryViewShowsDataOrAHintNeverEmptyAxes) {
  for (const auto& view : MainWindow::viewNames()) {
    ASSERT_TRUE(window->showView(view));
    wait_until([&] { return !window->isBusy(); }, 120000);
    QApplication::processEvents();
    for (QCustomPlot* plot : window->findChildren<QCustomPlot*>()) {
      if (!plot->isVisible()) continue;
      int points = 0;
      for (int i = 0; i < plot->plottableCount(); ++i) {
        const auto* data = plot->plottable(i)->interface1D();
        points += data ? data->dataCount() : 0;
        if (const auto* map = qobject_cast<QCPColorMap*>(plot->plottable(i)))  // the probes' heat map
          points += map->data()->keySize() * map->data()->valueSize();
      }
      EXPECT_TRUE(points > 0 || !hint(plot).isEmpty()) << view.toStdString() << ": a plot with neither data nor a hint";
      if (points == 0) {
        EXPECT_FALSE(plot->legend->visible()) << view.toStdString() << ": an empty legend";
      }
    }
  }
  EXPECT_FALSE(window->showView(QStringLiteral("nonsense")));
}

TEST_F(App, FirstStartFitsALaptopScreen) {
  // At most 90 % of the available screen, and every view usable down to 1024×640.
  const QRect screen = window->screen()->availableGeometry();
  EXPECT_LE(window->width(), int(screen.width() * 0.9) + 1);
  EXPECT_LE(window->height(), int(screen.height() * 0.9) + 1);
  const QSize minimum = window->minimumSizeHint().expandedTo(window->minimumSize());
  EXPECT_LE(minimum.width(), 1024);
  EXPECT_LE(minimum.height(), 640);
  window->resize(1024, 640);
  for (const auto& view : MainWindow::viewNames()) {
    window->showView(view);
    QApplication::processEvents();
    EXPECT_LE(window->width(), 1024) << view.toStdString();
  }
  // The Train view's form scrolls only vertically: none of its fields may be cut off at the side.
  window->showView(QStringLiteral("train"));
  QApplication::processEvents();
  auto* form = window->trainView()->findChild<QScrollArea*>();
  ASSERT_TRUE(form && form->widget());
  EXPECT_GE(form->viewport()->width(), form->widget()->minimumSizeHint().width());
  // Its buttons stay in view however far the form is scrolled (or not): wholly inside the view.
  form->verticalScrollBar()->setValue(0);  // the form's top: its end, where they were, out of view
  auto* tab = window->findChild<QTabWidget*>();
  ASSERT_TRUE(tab);
  const QRect shown = tab->currentWidget()->rect();
  for (const char* name : {"start", "pause", "stop", "resume"}) {
    auto* button = window->trainView()->findChild<QPushButton*>(QLatin1String(name));
    ASSERT_TRUE(button) << name;
    const QRect at(button->mapTo(tab->currentWidget(), QPoint(0, 0)), button->size());
    EXPECT_TRUE(shown.contains(at)) << name;
  }
}

TEST_F(App, TheRunsPanelCanBeClosedAndBroughtBack) {
  QDockWidget* dock = window->runsDock();
  ASSERT_TRUE(dock->isVisible());
  dock->close();
  EXPECT_FALSE(dock->isVisible());
  QAction* toggle = nullptr;
  for (QAction* menu : window->menuBar()->actions())
    for (QAction* a : menu->menu()->actions())
      if (a == dock->toggleViewAction()) toggle = a;
  ASSERT_NE(toggle, nullptr) << "no View menu entry for the Runs panel";
  toggle->trigger();
  EXPECT_TRUE(dock->isVisible());
}

TEST_F(App, ShippedRunsAreCheckedAndTheirPointsPlotted) {
  // First start: the shipped study's four variants are checked, as groups.
  QStringList variants;
  for (const QString& key : window->browser()->checkedGroups()) variants << QFileInfo(key).fileName();
  EXPECT_EQ(variants, (QStringList{QStringLiteral("baseline"), QStringLiteral("theta-minus"), QStringLiteral("theta-e4"), QStringLiteral("theta-plus")}));
  // One seed's run: every point of its metrics.csv.
  const QString run = shipped(QStringLiteral("theta-minus"));
  const auto rows = read_metrics((run + QStringLiteral("/metrics.csv")).toStdString());
  int train = 0, val = 0;
  for (const auto& r : rows) (r.split == "train" ? train : val)++;
  ASSERT_GT(train, 10);
  auto* curves = window->curvesView();
  curves->setGroups({});
  curves->setRuns({run});
  ASSERT_EQ(curves->lossPlot()->series().size(), 1u);
  EXPECT_EQ(curves->lossPlot()->pointCount(0), train);
  ASSERT_EQ(curves->errorPlot()->series().size(), 2u);  // train and val top-1
  EXPECT_EQ(curves->errorPlot()->pointCount(0), train);
  EXPECT_EQ(curves->errorPlot()->pointCount(1), val);
  // The variant's group: per epoch, the mean of its seeds' validation errors (in %).
  const QString key = QFileInfo(run).absolutePath();
  const RunGroup* group = window->catalog()->findGroup(key);
  ASSERT_NE(group, nullptr);
  std::map<double, std::vector<double>> by_epoch;
  for (const QString& seed : group->runs)
    for (const auto& r : read_metrics((seed + QStringLiteral("/metrics.csv")).toStdString()))
      if (r.split == "val") by_epoch[r.epoch].push_back(100 * r.top1_error);
  curves->setRuns({});
  curves->setGroups({key});
  ASSERT_EQ(curves->errorPlot()->series().size(), 2u);
  const Series& mean = curves->errorPlot()->series()[1];
  ASSERT_EQ(mean.x.size(), by_epoch.size());
  size_t i = 0;
  for (const auto& [epoch, errors] : by_epoch) {
    EXPECT_NEAR(mean.x[i], epoch, 1e-9);
    EXPECT_NEAR(mean.y[i], std::accumulate(errors.begin(), errors.end(), 0.0) / double(errors.size()), 1e-6);
    ++i;
  }
}

// Colours go first come first served; a run listed before another in a later session does not
// take that one's colour (it did: the catalog coloured the runs in folder order at every start).
TEST_F(App, ARunKeepsItsColourFromOneSessionToTheNext) {
  const QString b = copyOfShipped(QStringLiteral("baseline"), QStringLiteral("b-run"));
  window->catalog()->rescan();
  ASSERT_NE(window->catalog()->find(b), nullptr);
  const int colourB = window->catalog()->find(b)->colour;
  window.reset();
  const QString a = copyOfShipped(QStringLiteral("theta-minus"), QStringLiteral("a-run"));
  window = std::make_unique<MainWindow>(runs.path());
  window->show();
  ASSERT_TRUE(window->catalog()->find(a) && window->catalog()->find(b));
  EXPECT_EQ(window->catalog()->find(b)->colour, colourB);
  EXPECT_NE(run_color(window->catalog()->find(a)->colour), run_color(colourB));
  // A folder coloured before it exists (a study's variant as its first run is announced), reached
  // through a link, keeps its colour once it exists.
  const QString real = runs.filePath(QStringLiteral("real")), link = runs.filePath(QStringLiteral("link"));
  ASSERT_TRUE(QDir().mkpath(real));
  ASSERT_TRUE(QFile::link(real, link));
  const int early = window->catalog()->colourOf(link + QStringLiteral("/study/theta"));
  ASSERT_TRUE(QDir().mkpath(real + QStringLiteral("/study/theta")));
  EXPECT_EQ(window->catalog()->colourOf(real + QStringLiteral("/study/theta")), early);
  EXPECT_EQ(window->catalog()->colourOf(link + QStringLiteral("/study/theta")), early);
}

// Ten colours for the runs on disk: each new run takes one no run has (while one is free), and a
// deleted run's colour goes to the next run, not a colour another run shows.
TEST_F(App, RunsOnDiskDifferInColourAsFarAsTenColoursAllow) {
  QStringList copies;
  for (int k = 0; k < 6; ++k) copies << copyOfShipped(QStringLiteral("baseline"), QStringLiteral("copy-%1").arg(k));
  window->catalog()->rescan();
  QSet<QRgb> shown;
  for (const auto& g : window->catalog()->groups()) shown.insert(run_color(g.colour).rgb());
  for (const QString& c : copies) shown.insert(run_color(window->catalog()->find(c)->colour).rgb());
  EXPECT_EQ(shown.size(), 4 + 6) << "the shipped study's four groups and six runs";
  const QRgb freed = run_color(window->catalog()->find(copies[2])->colour).rgb();
  ASSERT_TRUE(QDir(copies[2]).removeRecursively());
  const QString next = copyOfShipped(QStringLiteral("theta-minus"), QStringLiteral("next"));
  window->catalog()->rescan();
  EXPECT_EQ(run_color(window->catalog()->find(next)->colour).rgb(), freed);
}

TEST_F(App, ARunKeepsOneColourInEveryView) {
  const QString a = shipped(QStringLiteral("baseline")), b = shipped(QStringLiteral("theta-plus"));
  const QColor colourB = run_color(window->catalog()->find(b)->colour);
  EXPECT_NE(run_color(window->catalog()->find(a)->colour), colourB);
  // B's colour does not depend on what else is shown or in which order.
  window->curvesView()->setGroups({});
  for (const QStringList& runs : {QStringList{a, b}, QStringList{b}, QStringList{b, a}}) {
    window->curvesView()->setRuns(runs);
    int seen = 0;
    for (const auto& s : window->curvesView()->lossPlot()->series()) {
      if (s.run == window->catalog()->find(b)->name) {
        EXPECT_EQ(s.color, colourB);
        ++seen;
      }
    }
    EXPECT_EQ(seen, 1);
  }
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
  run.set_status(RunStatus::kRunning);
  ASSERT_TRUE(wait_until([&] { return window->catalog()->find(dir)->status == RunStatus::kRunning; }, 10000));
  EXPECT_FALSE(window->catalog()->find(dir)->stalled());
  EXPECT_FALSE(window->trainView()->resume(dir));  // another process may still be training it
  EXPECT_FALSE(window->browser()->trashRun(dir));  // nor can it go to the trash
  EXPECT_TRUE(QFileInfo::exists(dir));
  for (const char* f : {"/run.json", "/metrics.csv"}) {
    QFile file(dir + QLatin1String(f));
    ASSERT_TRUE(file.open(QIODevice::ReadWrite));
    ASSERT_TRUE(file.setFileTime(QDateTime::currentDateTime().addSecs(-20 * 60), QFileDevice::FileModificationTime));
  }
  window->catalog()->rescan();
  EXPECT_TRUE(window->catalog()->find(dir)->stalled());
  EXPECT_EQ(window->catalog()->find(dir)->statusText(), QStringLiteral("stalled"));
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
  const QString dir = runs.filePath(QStringLiteral("gui-run"));
  ASSERT_TRUE(train->start(dir));
  EXPECT_TRUE(train->isTraining());
  ASSERT_TRUE(wait_until([&] { return train->lossPlot()->pointCount(0) >= 2; }));
  // Progress outside the Train view: the window title and the status bar.
  EXPECT_TRUE(window->windowTitle().contains(QStringLiteral("%] gui-run — GE Explorer"))) << window->windowTitle().toStdString();
  EXPECT_TRUE(window->trainingStatus().contains(QStringLiteral("gui-run"))) << window->trainingStatus().toStdString();
  train->setPaused(true);
  settle(600);  // what was in flight arrives
  const int paused = train->lossPlot()->pointCount(0);
  settle(1200);
  EXPECT_EQ(train->lossPlot()->pointCount(0), paused) << "points arrived while paused";
  train->setPaused(false);
  ASSERT_TRUE(wait_until([&] { return train->lossPlot()->pointCount(0) > paused; }));
  train->stop();
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }));
  EXPECT_EQ(window->windowTitle(), QStringLiteral("GE Explorer"));
  EXPECT_TRUE(window->trainingStatus().isEmpty());
  EXPECT_TRUE(QFileInfo::exists(dir + QStringLiteral("/checkpoints/last.safetensors")));
  EXPECT_EQ(RunDirectory::open(dir.toStdString()).status(), RunStatus::kStopped);
  // A row past the checkpoint, as a killed run leaves: the trainer drops it on resuming, and the
  // live curve must not draw it (it did, with the resumed steps drawn back over it).
  const auto written = read_metrics((dir + QStringLiteral("/metrics.csv")).toStdString());
  ASSERT_FALSE(written.empty());
  const int64_t stoppedAt = written.back().step;
  ASSERT_LT(stoppedAt, 150);
  RunDirectory::open(dir.toStdString()).append_metrics({{stoppedAt + 5, 0.5, "train", 99.0, 0.9, 0.5, 0.1, 900, 1}});
  window->catalog()->rescan();
  // Resumed from the run browser, as its context menu does.
  Q_EMIT window->browser()->resumeRequested(dir);
  ASSERT_TRUE(train->isTraining());
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 120000));
  settle(700);  // the last progress reaches the plot
  const Series& live = train->lossPlot()->series().at(0);
  ASSERT_GE(live.x.size(), 4u);
  EXPECT_EQ(live.x.front(), double(written.front().step)) << "the rows before the checkpoint are drawn";
  for (size_t i = 1; i < live.x.size(); ++i) EXPECT_LT(live.x[i - 1], live.x[i]) << "at point " << i;
  EXPECT_EQ(std::count(live.y.begin(), live.y.end(), 99.0), 0);
  EXPECT_EQ(RunDirectory::open(dir.toStdString()).status(), RunStatus::kFinished) << train->progressText().toStdString();
  const auto rows = read_metrics((dir + QStringLiteral("/metrics.csv")).toStdString());
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows.back().step, 160);
  EXPECT_EQ(window->messageBar()->kind(), MessageKind::kPositive);  // "… finished" is a success
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("finished")));
  // A finished run has nothing to resume: said at once, no process started.
  window->catalog()->rescan();
  EXPECT_FALSE(train->resume(dir));
  EXPECT_FALSE(train->isTraining());
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("nothing to resume"))) << window->messageText().toStdString();
}

// "Processes" 2 with synchronised BatchNorm: the Train view starts `gex train --nproc 2 --sync-bn`,
// offers no Pause (the ranks would time out), and the run browser says on how many processes the
// run trained.
// The device list: auto, cpu, then each GPU by name and memory; the run gets the device's name,
// and "Processes" goes up to the cores on the CPU, to the GPUs on GPUs.
TEST_F(App, TheDeviceListNamesEachGpuAndTheRunTakesTheDevicesName) {
  ASSERT_TRUE(window->showView(QStringLiteral("train")));
  auto* train = window->trainView();
  auto* device = train->findChild<QComboBox*>(QStringLiteral("device"));
  auto* processes = train->findChild<QSpinBox*>(QStringLiteral("processes"));
  ASSERT_TRUE(device && processes);
  const auto gpu_list = gpus();
  ASSERT_EQ(device->count(), 2 + int(gpu_list.size()));
  device->setCurrentIndex(1);
  EXPECT_EQ(train->config().device, "cpu");
  EXPECT_EQ(processes->maximum(), std::max(1, QThread::idealThreadCount()));
  for (size_t k = 0; k < gpu_list.size(); ++k) {
    device->setCurrentIndex(2 + int(k));
    EXPECT_TRUE(device->currentText().contains(QString::fromStdString(gpu_list[k].name)));
    EXPECT_EQ(train->config().device, "cuda:" + std::to_string(k));
    EXPECT_EQ(processes->maximum(), int(gpu_list.size()));
  }
  device->setCurrentIndex(0);
  EXPECT_EQ(train->config().device, "auto");
}

TEST_F(App, TrainingOnTwoProcessesFromTheTrainViewRecordsTheWorldAndCannotPause) {
  ASSERT_TRUE(window->showView(QStringLiteral("train")));
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
  auto* train = window->trainView();
  TrainConfig config = synthetic_config(12);
  config.log_every = 2;
  train->setConfig(config);
  auto* processes = train->findChild<QSpinBox*>(QStringLiteral("processes"));
  auto* sync = train->findChild<QCheckBox*>(QStringLiteral("syncBn"));
  auto* pause = train->findChild<QPushButton*>(QStringLiteral("pause"));
  ASSERT_TRUE(processes && sync && pause);
  EXPECT_FALSE(sync->isEnabled());  // one process: nothing to synchronise
  processes->setValue(2);
  EXPECT_TRUE(sync->isEnabled());
  sync->setChecked(true);
  const QString dir = runs.filePath(QStringLiteral("two-processes"));
  ASSERT_TRUE(train->start(dir));
  EXPECT_TRUE(train->isTraining());
  EXPECT_FALSE(pause->isEnabled());
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 120000));
  const auto run = RunDirectory::open(dir.toStdString());
  EXPECT_EQ(run.status(), RunStatus::kFinished) << train->progressText().toStdString();
  EXPECT_EQ(run.world_size(), 2);
  EXPECT_TRUE(run.config().sync_bn);
  EXPECT_EQ(run.config().threads, 1);  // the form's 2 threads, shared by the two processes
  window->catalog()->rescan();
  auto* tree = window->browser()->findChild<QTreeWidget*>();
  const auto items = tree->findItems(QStringLiteral("two-processes"), Qt::MatchExactly | Qt::MatchRecursive, 0);
  ASSERT_EQ(items.size(), 1);
  EXPECT_TRUE(items[0]->text(2).contains(QStringLiteral("2 processes"))) << items[0]->text(2).toStdString();
}

TEST_F(App, TrainingFromAShippedRunWithAFrozenBackboneKeepsItBitForBit) {
  auto* train = window->trainView();
  train->setConfig(synthetic_config(4));
  // The user picks the shipped baseline under "Start from": the backbone becomes its and locks.
  const QString source = QFileInfo(shipped(QStringLiteral("baseline")) +
                                   QStringLiteral("/checkpoints/best.safetensors")).absoluteFilePath();
  auto* startFrom = train->findChild<QComboBox*>(QStringLiteral("startFrom"));
  auto* freeze = train->findChild<QCheckBox*>(QStringLiteral("freezeBackbone"));
  ASSERT_TRUE(startFrom && freeze);
  EXPECT_FALSE(freeze->isVisibleTo(train));  // nothing to freeze from scratch
  const int item = startFrom->findData(source);
  ASSERT_GE(item, 0) << "the shipped runs are offered";
  startFrom->setCurrentIndex(item);
  Q_EMIT startFrom->activated(item);
  ASSERT_TRUE(freeze->isEnabled() && freeze->isVisibleTo(train));
  freeze->setChecked(true);
  EXPECT_EQ(train->config().init_from, source.toStdString());
  EXPECT_EQ(train->config().model.backbone, "resnet20");
  const QString dir = runs.filePath(QStringLiteral("frozen"));
  ASSERT_TRUE(train->start(dir));
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 120000));
  const auto run = RunDirectory::open(dir.toStdString());
  ASSERT_EQ(run.status(), RunStatus::kFinished) << window->messageText().toStdString();
  EXPECT_TRUE(run.config().freeze_backbone);
  EXPECT_EQ(run.config().init_from, source.toStdString());
  const auto before = load_checkpoint(source.toStdString());
  const auto after = load_checkpoint((dir + QStringLiteral("/checkpoints/last.safetensors")).toStdString());
  std::map<std::string, torch::Tensor> trained;
  for (const auto& [name, t] : model_state(*after.net)) trained[name] = t;
  for (const auto& [name, t] : model_state(*before.net)) {
    if (name.rfind("fc.", 0) != 0) {
      EXPECT_TRUE(torch::equal(trained.at(name), t)) << name << " moved";
    }
  }
}

TEST_F(App, StartStudyTrainsEveryVariantAndSeedWithTheFormsSettings) {
  auto* train = window->trainView();
  TrainConfig config = synthetic_config(6);
  config.model.variant = GEVariant::kThetaPlus;
  config.lr = 0.05;
  config.probes = false;  // the study is under test here, not its probes (they would take two thirds of the time)
  train->setConfig(config);
  const QString study = runs.filePath(QStringLiteral("study"));
  QStringList announced;
  std::map<QString, QColor> drawnIn;  // the colour of each run's live curves
  QObject::connect(train, &TrainView::runStarted, [&](const QString& dir) {
    announced << dir;
    drawnIn[dir] = train->lossPlot()->series().at(0).color;
  });
  QStringList named;  // the runs the window title and the status bar name
  QObject::connect(train, &TrainView::progressChanged, [&](double fraction, const QString& run) {
    if (fraction >= 0) named << run;
  });
  ASSERT_TRUE(train->startStudy({QStringLiteral("baseline"), QStringLiteral("theta-plus")}, 2, study));
  ASSERT_TRUE(wait_until([&] { return !train->isBusy(); }, 180000));
  // Which run of the study trains, and how far the study is, not "seed-1".
  ASSERT_FALSE(named.isEmpty());
  const QRegularExpression label(QStringLiteral("^study, run [1-4] of 4 \\((baseline|theta-plus)/seed-[12]\\)$"));
  for (const QString& n : named) EXPECT_TRUE(label.match(n).hasMatch()) << n.toStdString();
  // Seed by seed: the baseline and GE-θ⁺ of seed 1, then of seed 2; the plots followed each.
  const QStringList expected = {study + QStringLiteral("/baseline/seed-1"), study + QStringLiteral("/theta-plus/seed-1"),
                                study + QStringLiteral("/baseline/seed-2"), study + QStringLiteral("/theta-plus/seed-2")};
  EXPECT_EQ(announced, expected);
  std::vector<TrainConfig> trained;
  for (const QString& dir : expected) {
    const auto run = RunDirectory::open(dir.toStdString());
    EXPECT_EQ(run.status(), RunStatus::kFinished) << dir.toStdString();
    trained.push_back(run.config());
  }
  ASSERT_EQ(trained.size(), 4u);
  EXPECT_EQ(trained[0].model.attention, AttentionKind::kNone);
  EXPECT_EQ(trained[1].model.variant, GEVariant::kThetaPlus);
  EXPECT_EQ(trained[2].seed, 2u);
  EXPECT_FALSE(trained[0].probes) << "the form's Record probes reaches the runs";
  EXPECT_FALSE(QFileInfo::exists(expected[0] + QStringLiteral("/probes")));
  for (auto& c : trained) {  // the form's settings in every run; only attention and seed differ
    EXPECT_EQ(c.lr, 0.05);
    c.model.attention = AttentionKind::kGE;
    c.model.variant = GEVariant::kThetaPlus;
    c.seed = 0;
    c.threads = 0;
    EXPECT_EQ(c.to_json(), trained[0].to_json());
  }
  EXPECT_EQ(test::read_text(study + QStringLiteral("/study.csv")).count('\n'), 5) << "a header and four runs";
  // The run browser shows it as a study of two groups.
  ASSERT_TRUE(wait_until([&] { return test::user_groups(*window->catalog()).size() == 2; }));
  EXPECT_EQ(test::user_groups(*window->catalog())[0].runs.size(), 2);
  // Its groups are checked (their mean and spread in Curves), as a run started here is.
  for (const RunGroup& g : test::user_groups(*window->catalog()))
    EXPECT_TRUE(window->browser()->checkedGroups().contains(g.key)) << g.key.toStdString();
  // Each run's live curves had its group's colour, as the browser and every view draw it.
  for (const RunGroup& g : test::user_groups(*window->catalog()))
    for (const QString& run : g.runs) {
      const auto drawn = std::find_if(drawnIn.begin(), drawnIn.end(),
                                      [&](const auto& d) { return QFileInfo(d.first).canonicalFilePath() == run; });
      ASSERT_NE(drawn, drawnIn.end()) << run.toStdString();
      EXPECT_EQ(drawn->second, run_color(g.colour)) << run.toStdString();
    }
}

TEST_F(App, ClosingWhileTrainingAsksThenKeepsAResumableCheckpoint) {
  auto* train = window->trainView();
  train->setConfig(synthetic_config(100000));
  const QString dir = runs.filePath(QStringLiteral("closing"));
  ASSERT_TRUE(train->start(dir));
  ASSERT_TRUE(wait_until([&] { return train->lossPlot()->pointCount(0) >= 1; }));
  // Cancel first: the window stays and the run goes on.
  test::answer_next_question(QMessageBox::Cancel);
  EXPECT_FALSE(window->close());
  EXPECT_TRUE(train->isTraining());
  test::answer_next_question(QMessageBox::Yes);
  EXPECT_TRUE(window->close());
  EXPECT_FALSE(train->isTraining());
  const auto run = RunDirectory::open(dir.toStdString());
  EXPECT_EQ(run.status(), RunStatus::kStopped);
  const auto meta = read_safetensors(run.last_checkpoint()).metadata;
  EXPECT_GT(std::stoll(meta.at("step")), 0);
}

TEST_F(App, DeletingARunMovesItToTheTrashAndUndoBringsItBack) {
  auto config = synthetic_config(4);
  WorkControl control;
  const QString dir = QDir(runs.path()).filePath(QStringLiteral("to-delete"));
  gex::train(dir.toStdString(), config, {}, control);
  window->catalog()->rescan();
  ASSERT_TRUE(window->catalog()->find(dir));
  const QByteArray metrics = test::read_text(dir + QStringLiteral("/metrics.csv"));
  QString inTrash;
  QObject::connect(window->browser(), &RunBrowser::runTrashed, window.get(),
                   [&](const QString&, const QString& where) { inTrash = where; });
  // The Delete key in the run browser, on the selected run.
  window->browser()->setCurrentRun(dir);
  auto* tree = window->browser()->findChild<QTreeWidget*>();
  window->activateWindow();
  QApplication::setActiveWindow(window.get());
  tree->setFocus();
  QTest::keyClick(tree, Qt::Key_Delete);
  QApplication::processEvents();
  ASSERT_FALSE(QFileInfo::exists(dir)) << window->messageText().toStdString();
  EXPECT_FALSE(window->catalog()->find(dir));
  EXPECT_EQ(window->messageBar()->kind(), MessageKind::kInformation);
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("trash")));
  // Still there, in the desktop trash (Trash/files/NAME, its record in Trash/info).
  ASSERT_FALSE(inTrash.isEmpty());
  EXPECT_TRUE(inTrash.contains(QStringLiteral("Trash"))) << inTrash.toStdString();
  EXPECT_EQ(test::read_text(inTrash + QStringLiteral("/metrics.csv")), metrics);
  window->messageBar()->triggerAction();  // Undo
  ASSERT_TRUE(QFileInfo::exists(dir + QStringLiteral("/run.json")));
  EXPECT_FALSE(QFileInfo::exists(inTrash));
  EXPECT_EQ(test::read_text(dir + QStringLiteral("/metrics.csv")), metrics);
  EXPECT_TRUE(window->catalog()->find(dir));
  // Shipped runs are read-only.
  EXPECT_FALSE(window->browser()->trashRun(shipped(QStringLiteral("baseline"))));
  EXPECT_TRUE(QFileInfo::exists(shipped(QStringLiteral("baseline"))));
}

TEST_F(App, DroppingFilesOpensRunsCheckpointsAndImages) {
  auto config = synthetic_config(2);
  WorkControl control;
  QTemporaryDir elsewhere;  // a run outside the runs folder
  const QString run = elsewhere.filePath(QStringLiteral("dropped-run"));
  gex::train(run.toStdString(), config, {}, control);
  const QString checkpoint = shipped(QStringLiteral("theta-plus")) + QStringLiteral("/checkpoints/best.safetensors");
  const QString image = sample(QStringLiteral("fashion-3-dress.png"));
  QMimeData data;
  data.setUrls({QUrl::fromLocalFile(run), QUrl::fromLocalFile(checkpoint), QUrl::fromLocalFile(image)});
  QDropEvent drop(QPointF(200, 200), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
  QDragEnterEvent enter(QPoint(200, 200), Qt::CopyAction, &data, Qt::LeftButton, Qt::NoModifier);
  QApplication::sendEvent(window.get(), &enter);
  EXPECT_TRUE(enter.isAccepted());
  QApplication::sendEvent(window.get(), &drop);
  const QString canonical = QFileInfo(run).canonicalFilePath();
  EXPECT_TRUE(window->browser()->checkedRuns().contains(canonical));
  EXPECT_EQ(window->currentView(), QStringLiteral("gates"));
  ASSERT_TRUE(wait_until([&] { return !window->gatesView()->isBusy() && window->gatesView()->result(0); }));
  EXPECT_EQ(window->gatesView()->result(0)->model, QFileInfo(checkpoint).absoluteFilePath());
  EXPECT_TRUE(window->gatesView()->images().contains(QFileInfo(image).canonicalFilePath()));
  // Dropping the same image again adds no second entry.
  const int count = int(window->gatesView()->images().size());
  window->openPaths({image});
  EXPECT_EQ(window->gatesView()->images().size(), count);
}

TEST_F(App, SettingsSurviveARestartAndUnreadableOnesAreReported) {
  window->curvesView()->smoothingSlider()->setValue(85);
  window->curvesView()->logScaleBox()->setChecked(true);
  window->pruningView()->setOrders({QStringLiteral("l1-desc"), QStringLiteral("random")});
  window->showView(QStringLiteral("selectivity"));
  TrainConfig form = synthetic_config(33);
  form.model.backbone = "resnet32";
  window->trainView()->setConfig(form);
  window->trainView()->startConfig(window->trainView()->config(), runs.filePath(QStringLiteral("remembered")));
  wait_until([&] { return !window->trainView()->isBusy(); }, 60000);
  window->close();
  window.reset();
  window = std::make_unique<MainWindow>(runs.path());
  window->show();
  EXPECT_EQ(window->curvesView()->smoothingSlider()->value(), 85);
  EXPECT_TRUE(window->curvesView()->logScaleBox()->isChecked());
  EXPECT_EQ(window->curvesView()->lossPlot()->plot()->yAxis->scaleType(), QCPAxis::stLogarithmic);
  EXPECT_EQ(window->currentView(), QStringLiteral("selectivity"));
  EXPECT_EQ(window->trainView()->config().model.backbone, "resnet32");
  EXPECT_EQ(window->trainView()->config().steps, 33);
  EXPECT_TRUE(window->messageText().isEmpty()) << window->messageText().toStdString();
  // A saved form another version cannot read, and a view that does not exist: both said.
  window.reset();
  QSettings().setValue(QStringLiteral("train/config"), QStringLiteral("{\"model\": 42}"));
  QSettings().setValue(QStringLiteral("view"), QStringLiteral("sideways"));
  window = std::make_unique<MainWindow>(runs.path());
  bool formReported = false, viewReported = false;
  for (const auto& m : window->messageBar()->history()) {
    formReported |= m.text.contains(QStringLiteral("Train form")) && m.kind == MessageKind::kWarning;
    viewReported |= m.text.contains(QStringLiteral("sideways"));
  }
  EXPECT_TRUE(formReported);
  EXPECT_TRUE(viewReported);
}

TEST_F(App, AnalysisJobsCancelAsCancelledAndAreNotRestartedUntilCompute) {
  const QString run = scannedCopyOfShipped(QStringLiteral("baseline"));  // without probes
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  wait_until([&] { return !window->isBusy(); }, 120000);
  auto* view = window->selectivityView();
  EXPECT_FALSE(view->jobBar()->cancelButton()->isEnabled()) << "Cancel enabled with nothing running";
  view->setLimit(9000);  // not cached: a job starts
  view->setRuns({run});
  ASSERT_TRUE(view->isBusy());
  EXPECT_TRUE(view->jobBar()->cancelButton()->isEnabled());
  // Esc in the view cancels.
  window->activateWindow();
  QApplication::setActiveWindow(window.get());
  view->setFocus();
  QTest::keyClick(view, Qt::Key_Escape);
  ASSERT_TRUE(wait_until([&] { return !view->isBusy(); }, 60000));
  EXPECT_FALSE(view->jobBar()->cancelButton()->isEnabled());
  EXPECT_TRUE(view->jobBar()->status().contains(QStringLiteral("Cancelled"))) << view->jobBar()->status().toStdString();
  EXPECT_FALSE(view->data().count(run));
  // Showing the runs again starts nothing; Compute does.
  view->setRuns({run});
  settle(300);
  EXPECT_FALSE(view->isBusy());
  view->compute();
  EXPECT_TRUE(view->isBusy());
  view->jobBar()->cancel();
  wait_until([&] { return !view->isBusy(); }, 60000);
}

TEST_F(App, APaletteChangeRestylesThePlots) {
  const QPalette light = QApplication::palette();
  QPalette dark = light;
  dark.setColor(QPalette::Base, QColor(30, 30, 30));
  dark.setColor(QPalette::Window, QColor(45, 45, 45));
  dark.setColor(QPalette::WindowText, QColor(230, 230, 230));
  dark.setColor(QPalette::Text, QColor(230, 230, 230));
  QApplication::setPalette(dark);
  QApplication::processEvents();
  for (QCustomPlot* plot : window->findChildren<QCustomPlot*>()) {
    EXPECT_EQ(plot->toPixmap(120, 90).toImage().pixelColor(1, 1), QColor(30, 30, 30));
    EXPECT_EQ(plot->xAxis->tickLabelColor(), QColor(230, 230, 230));
  }
  // The message bar's colours follow too: its background mixes the kind into the new window colour.
  window->showMessage(QStringLiteral("dark"), MessageKind::kError);
  EXPECT_EQ(window->messageBar()->palette().color(QPalette::Window), MessageBar::background(MessageKind::kError, dark));
  QApplication::setPalette(light);
}

TEST_F(App, ABadImageShowsAMessageAndNothingCrashes) {
  const QString bad = runs.filePath(QStringLiteral("broken.png"));
  test::write_text(bad, "\x89PNG\r\n\x1a\n not really");
  window->gatesView()->setModel(shipped(QStringLiteral("theta-minus")) + QStringLiteral("/checkpoints/best.safetensors"), 0);
  window->openImages({bad});
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(QStringLiteral("broken.png")); }, 30000))
      << window->messageText().toStdString();
  EXPECT_EQ(window->messageBar()->kind(), MessageKind::kError);
  // Writing into the runs folder rescans it; the same image and model are not tried again, so the
  // error is not repeated (it once was, whenever the folder watcher fired after the first failure).
  wait_until([&] { return !window->gatesView()->isBusy(); });
  window->catalog()->rescan();
  EXPECT_FALSE(window->gatesView()->isBusy());
  // A truncated checkpoint: the message names it, and the view does not show the old model's gates.
  const QByteArray good = test::read_text(shipped(QStringLiteral("theta-plus")) + QStringLiteral("/checkpoints/best.safetensors"));
  const QString truncated = runs.filePath(QStringLiteral("truncated.safetensors"));
  test::write_text(truncated, good.left(3000));
  ASSERT_TRUE(window->openPath(truncated));
  window->openImages({sample(QStringLiteral("fashion-1-trouser.png"))});
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(QStringLiteral("truncated.safetensors")); }, 30000))
      << window->messageText().toStdString();
  wait_until([&] { return !window->gatesView()->isBusy(); });
  EXPECT_TRUE(window->gatesView()->overlay(0).isNull());
  window->openImages({runs.filePath(QStringLiteral("missing.png"))});
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("missing.png")));
  EXPECT_FALSE(window->openPath(runs.filePath(QStringLiteral("nothing-here"))));
  // Earlier messages stay reachable.
  int named = 0;
  for (const auto& m : window->messageBar()->history()) named += m.text.contains(QStringLiteral("broken.png"));
  EXPECT_EQ(named, 1);
}

}  // namespace
}  // namespace gex::ui
