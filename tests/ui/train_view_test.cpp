// The Train view offscreen as a user drives it: a run streamed, paused, stopped and resumed; the
// device list; two processes; a start from a shipped run's weights; a study; closing the window
// while training — checked against the run directories the trainer writes.
#include <gtest/gtest.h>

#include <csignal>
#include <map>

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFileDialog>
#include <QPushButton>
#include <QRegularExpression>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include "control.h"
#include "curve_plot.h"
#include "data/dataset.h"
#include "io/safetensors.h"
#include "message_bar.h"
#include "plot_style.h"
#include "quit_signals.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/run_dir.h"
#include "train/trainer.h"
#include "train_form.h"
#include "train_view.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::settle;
using test::shipped;
using test::synthetic_config;
using test::wait_until;

// The Data field after `…`: the kind by the files in the folder, CIFAR's python version and IDX
// files named with dots included (the engine then says what to do with the first), an ImageNet
// layout's train/ folder taken for no CIFAR-100 file.
TEST(TrainFormData, AFolderPickedIsNamedByTheFilesInIt) {
  const std::pair<std::vector<const char*>, const char*> cases[] = {
      {{"data_batch_1.bin", "test_batch.bin"}, "cifar10"}, {{"data_batch_1", "test_batch"}, "cifar10"},
      {{"train.bin", "test.bin"}, "cifar100"},              {{"train", "test", "meta"}, "cifar100"},
      {{"train-images-idx3-ubyte.gz"}, "idx"},             {{"train-images.idx3-ubyte"}, "idx"},
      {{"train/cat/a.png", "val/cat/b.png"}, "folder"},     {{"cat/a.png"}, "folder"}};
  for (const auto& [files, kind] : cases) {
    QTemporaryDir dir;
    for (const char* f : files) {
      const QString file = dir.filePath(QLatin1String(f));
      QDir().mkpath(QFileInfo(file).absolutePath());
      test::write_text(file, "x");
    }
    EXPECT_EQ(data_for_folder(dir.path()), QLatin1String(kind) + QLatin1Char(':') + dir.path()) << files.front();
  }
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

// A stopped run whose data folder moved since: Resume asks where the data is now (a folder
// chooser) and the run goes on from there (`gex train --resume RUN --data …`, recorded in run.json);
// declined, it says so and starts nothing.
TEST_F(App, ResumingARunWhoseDataMovedAsksWhereItIsNow) {
  QTemporaryDir data;
  const QString before = data.filePath(QStringLiteral("fashion")), after = data.filePath(QStringLiteral("moved"));
  ASSERT_TRUE(QDir().mkpath(before));
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"})
    ASSERT_TRUE(QFile::link(QString::fromLatin1(kFashionMnistDir) + QLatin1Char('/') + QLatin1String(name),
                            before + QLatin1Char('/') + QLatin1String(name)));
  TrainConfig config;
  config.data = "fashion-mnist:" + before.toStdString();
  config.model.in_channels = 1;
  config.model.input_size = 28;
  config.steps = 30;
  config.batch = 32;
  config.threads = 1;
  config.log_every = 1;
  config.eval_limit = 100;
  config.probes = false;
  const std::string dir = runs.filePath(QStringLiteral("moved-data")).toStdString();
  WorkControl control;
  TrainCallbacks stop_at_once;
  stop_at_once.on_progress = [&](const TrainProgress&) { control.cancel(); };
  ASSERT_TRUE(gex::train(dir, config, stop_at_once, control).cancelled);
  ASSERT_TRUE(QDir().rename(before, after));
  window->catalog()->rescan();
  auto* train = window->trainView();
  QString asked;
  const auto answer = [&](const QString& folder) {
    auto* timer = new QTimer(train);
    QObject::connect(timer, &QTimer::timeout, timer, [&, timer, folder] {
      auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
      if (!dialog) return;
      asked = dialog->windowTitle();
      timer->stop();
      if (folder.isEmpty()) return dialog->reject();
      dialog->setDirectory(folder);  // opened in it, nothing selected: the folder itself
      static_cast<QDialog*>(dialog)->accept();  // as the dialog's Choose button
    });
    timer->start(50);
  };
  answer(QString());
  EXPECT_FALSE(train->resume(QString::fromStdString(dir)));
  EXPECT_TRUE(asked.contains(before)) << asked.toStdString();
  EXPECT_FALSE(train->isTraining());
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("was not resumed"))) << window->messageText().toStdString();
  answer(after);
  ASSERT_TRUE(train->resume(QString::fromStdString(dir)));
  EXPECT_EQ(train->config().data, "fashion-mnist:" + after.toStdString()) << "the form shows where it trains";
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 120000));
  const auto resumed = RunDirectory::open(dir);
  EXPECT_EQ(resumed.status(), RunStatus::kFinished) << window->messageText().toStdString();
  EXPECT_EQ(resumed.config().data, "fashion-mnist:" + after.toStdString());
  EXPECT_EQ(read_metrics(resumed.metrics_path()).back().step, 30);
}

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

// "Processes" 2 with synchronised BatchNorm: the Train view starts `gex train --nproc 2 --sync-bn`;
// Pause holds both processes (rank 0 writes the progress itself, so a launcher paused alone would
// leave it coming) and the run goes on to finish; the run browser says on how many processes the
// run trained.
TEST_F(App, TrainingOnTwoProcessesFromTheTrainViewRecordsTheWorldAndPauses) {
  ASSERT_TRUE(window->showView(QStringLiteral("train")));
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
  auto* train = window->trainView();
  TrainConfig config = synthetic_config(120);
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
  ASSERT_TRUE(wait_until([&] { return train->lossPlot()->pointCount(0) >= 2; }, 60000));
  ASSERT_TRUE(pause->isEnabled());
  pause->click();
  settle(600);  // what was in flight arrives
  const int paused = train->lossPlot()->pointCount(0);
  settle(1500);
  EXPECT_EQ(train->lossPlot()->pointCount(0), paused) << "points arrived while paused";
  pause->click();
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 120000));
  EXPECT_GT(train->lossPlot()->pointCount(0), paused);
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

// A data-parallel start that fails in every process (here each one's GLOO_SOCKET_IFNAME names no
// interface): the Train view says rank 0's error, not the launcher's "rank 1: the same" after it.
TEST_F(App, AFailedStartOnTwoProcessesSaysRankZerosError) {
  ASSERT_TRUE(window->showView(QStringLiteral("train")));
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
  auto* train = window->trainView();
  train->setConfig(synthetic_config(4));
  auto* processes = train->findChild<QSpinBox*>(QStringLiteral("processes"));
  ASSERT_TRUE(processes);
  processes->setValue(2);
  qputenv("GLOO_SOCKET_IFNAME", "gex-no-such0");  // the workers inherit it
  const bool started = train->start(runs.filePath(QStringLiteral("no-interface")));
  qunsetenv("GLOO_SOCKET_IFNAME");
  ASSERT_TRUE(started);
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }, 60000));
  const QString said = QStringLiteral("rank 0 cannot open its network interface for Gloo (GLOO_SOCKET_IFNAME=gex-no-such0");
  EXPECT_TRUE(train->progressText().contains(said)) << train->progressText().toStdString();
  EXPECT_TRUE(window->messageText().contains(said)) << window->messageText().toStdString();
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
  // A GE checkpoint brings its attention modules (fine-tuning it must not train a baseline); a
  // baseline's leaves the attention chosen (GE added to a pretrained network).
  const auto pick = [&](const QString& path) {
    const int k = startFrom->findData(path);
    ASSERT_GE(k, 0) << path.toStdString();
    startFrom->setCurrentIndex(k);
    Q_EMIT startFrom->activated(k);
  };
  pick(QFileInfo(shipped(QStringLiteral("theta-plus")) + QStringLiteral("/checkpoints/best.safetensors")).absoluteFilePath());
  EXPECT_EQ(train->config().model.attention, AttentionKind::kGE);
  EXPECT_EQ(train->config().model.variant, GEVariant::kThetaPlus);
  pick(source);
  EXPECT_EQ(train->config().model.variant, GEVariant::kThetaPlus);
  train->setConfig(synthetic_config(4));
  EXPECT_EQ(train->config().model.variant, GEVariant::kThetaMinus);
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

// Starts a run of the synthetic data too long to finish in a test and waits for its first point.
bool start_endless_run(TrainView* train, const QString& dir) {
  train->setConfig(synthetic_config(100000));
  return train->start(dir) && wait_until([&] { return train->lossPlot()->pointCount(0) >= 1; });
}

TEST_F(App, ClosingWhileTrainingAsksThenKeepsAResumableCheckpoint) {
  auto* train = window->trainView();
  const QString dir = runs.filePath(QStringLiteral("closing"));
  ASSERT_TRUE(start_endless_run(train, dir));
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

// gex killed under the view (the kernel's out-of-memory killer sends SIGKILL): the view says by
// what, not "crashed (Process crashed)".
TEST_F(App, ATrainingKilledBySignalIsSaidAsSuch) {
  auto* train = window->trainView();
  const QString dir = runs.filePath(QStringLiteral("killed"));
  ASSERT_TRUE(start_endless_run(train, dir));
  // The writer's pid, from its lock: "pid N on HOST since …".
  QFile lock(dir + QStringLiteral("/.lock"));
  ASSERT_TRUE(lock.open(QIODevice::ReadOnly));
  const auto match = QRegularExpression(QStringLiteral("pid (\\d+)")).match(QString::fromUtf8(lock.readAll()));
  ASSERT_TRUE(match.hasMatch());
  ASSERT_EQ(::kill(pid_t(match.captured(1).toLongLong()), SIGKILL), 0);
  ASSERT_TRUE(wait_until([&] { return !train->isTraining(); }));
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("gex train was killed (signal 9, Killed): by the system when memory ran out")))
      << window->messageText().toStdString();
  EXPECT_EQ(window->messageBar()->kind(), MessageKind::kError);
}

// SIGTERM (the session logging out, `kill`), SIGINT or SIGHUP quit the window as File → Quit
// does but without asking, since nobody is there to answer: the run saves `last` and stops. The
// handler then gives way, so that a second signal ends the program at once.
TEST_F(App, ASignalQuitsWithoutAskingAndTheRunKeepsAResumableCheckpoint) {
  QuitSignals quitSignals;
  std::vector<int> received;
  QObject::connect(&quitSignals, &QuitSignals::received, window.get(), [&](int signal) {
    received.push_back(signal);
    window->quitWithoutAsking();
  });
  auto* train = window->trainView();
  const QString dir = runs.filePath(QStringLiteral("signalled"));
  ASSERT_TRUE(start_endless_run(train, dir));
  bool asked = false;  // a question would wait for an answer nobody gives: note it and cancel it
  QTimer questions;
  QObject::connect(&questions, &QTimer::timeout, [&] {
    if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
      asked = true;
      box->button(QMessageBox::Cancel)->click();
    }
  });
  questions.start(50);
  ASSERT_EQ(::raise(SIGTERM), 0);
  ASSERT_TRUE(wait_until([&] { return !received.empty() && !train->isTraining(); }));
  EXPECT_FALSE(asked);
  EXPECT_EQ(received, std::vector<int>{SIGTERM});
  EXPECT_FALSE(window->isVisible());
  const auto run = RunDirectory::open(dir.toStdString());
  EXPECT_EQ(run.status(), RunStatus::kStopped);
  EXPECT_GT(std::stoll(read_safetensors(run.last_checkpoint()).metadata.at("step")), 0);
  struct sigaction now {};
  ::sigaction(SIGTERM, nullptr, &now);
  EXPECT_EQ(now.sa_handler, SIG_DFL);  // a second SIGTERM would end the program
  ::sigaction(SIGINT, nullptr, &now);
  EXPECT_NE(now.sa_handler, SIG_DFL);  // the others still lead here until the handlers go
}

}  // namespace
}  // namespace gex::ui
