// The application offscreen as a user drives it: the window, the run browser and its runs'
// colours, settings, messages — checked against the engine and against values worked out here.
// Training from the Train view: train_view_test.cpp; what drops and opens do: opening_test.cpp.
#include <gtest/gtest.h>

#include <map>
#include <numeric>

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <QCheckBox>
#include <QComboBox>
#include <QDialog>
#include <QDockWidget>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QScrollArea>
#include <QSet>
#include <QScrollBar>
#include <QSpinBox>
#include <QStandardPaths>
#include <QMenuBar>
#include <QTabWidget>
#include <QTableWidget>
#include <QTimer>
#include <QTest>
#include <QThread>
#include <QTreeWidget>

#include "curve_plot.h"
#include "flow_layout.h"
#include "curves_view.h"
#include "gates_view.h"
#include "job.h"
#include "job_bar.h"
#include "plot_style.h"
#include "pruning_view.h"
#include "qcp.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/run_dir.h"
#include "train/trainer.h"
#include "window_geometry.h"
#include "train_view.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::settle;
using test::shipped;
using test::sample;
using test::synthetic_config;
using test::wait_until;

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

// View → Recent messages before anything was said: a line that says so, not an empty panel; the
// first message takes its place.
TEST_F(App, FirstStartsRecentMessagesSayThereAreNoneYet) {
  auto* dock = window->findChild<QDockWidget*>(QStringLiteral("messages"));
  ASSERT_NE(dock, nullptr);
  auto* list = qobject_cast<QListWidget*>(dock->widget());
  ASSERT_NE(list, nullptr);
  ASSERT_TRUE(window->messageBar()->history().empty()) << window->messageBar()->history().front().text.toStdString();
  ASSERT_EQ(list->count(), 1);
  EXPECT_TRUE(list->item(0)->text().startsWith(QStringLiteral("No messages yet"))) << list->item(0)->text().toStdString();
  EXPECT_EQ(list->item(0)->flags(), Qt::NoItemFlags);
  window->showMessage(QStringLiteral("first"), MessageKind::kInformation);
  window->showMessage(QStringLiteral("second"), MessageKind::kInformation);
  ASSERT_EQ(list->count(), 2);
  EXPECT_TRUE(list->item(0)->text().endsWith(QStringLiteral("second"))) << list->item(0)->text().toStdString();
  EXPECT_TRUE(list->item(1)->text().endsWith(QStringLiteral("first"))) << list->item(1)->text().toStdString();
  // Shown (View → Recent messages), it opens a few lines tall, leaving the views their room.
  dock->toggleViewAction()->trigger();
  QApplication::processEvents();
  ASSERT_TRUE(dock->isVisible());
  const int line = list->fontMetrics().lineSpacing();
  EXPECT_GE(list->height(), 3 * line);
  EXPECT_LE(list->height(), 8 * line) << "of a window " << window->height() << " px tall";
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
  // No view is wider than the window: controls wrap onto a second row instead (at 1024 px the
  // Pruning view's row of orders made the view scroll sideways, its plot cut at 0.8).
  for (const auto& view : MainWindow::viewNames()) {
    window->showView(view);
    test::settle(100);
    auto* area = qobject_cast<QScrollArea*>(tab->currentWidget());
    ASSERT_TRUE(area) << view.toStdString();
    EXPECT_EQ(area->horizontalScrollBar()->maximum(), 0) << view.toStdString();
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

// Help → Keyboard shortcuts lists the menus' shortcuts as the menus hold them, and the views' own.
TEST_F(App, TheRunsPanelsShortcutAndTheViewsOwnAreListedInTheHelp) {
  QAction* open = nullptr;
  for (QAction* menu : window->menuBar()->actions())
    for (QAction* a : menu->menu()->actions())
      if (a->text().remove(QLatin1Char('&')) == QLatin1String("Keyboard shortcuts")) open = a;
  ASSERT_NE(open, nullptr) << "no Help menu entry for the shortcuts";
  QMap<QString, QString> listed;
  QTimer::singleShot(0, [&] {
    auto* dialog = qobject_cast<QDialog*>(QApplication::activeModalWidget());
    if (!dialog) return;
    if (auto* table = dialog->findChild<QTableWidget*>())
      for (int row = 0; row < table->rowCount(); ++row) listed[table->item(row, 0)->text()] = table->item(row, 1)->text();
    dialog->reject();
  });
  open->trigger();
  const auto native = [](const char* keys) { return QKeySequence(QString::fromLatin1(keys)).toString(QKeySequence::NativeText); };
  EXPECT_EQ(listed.value(QStringLiteral("Runs panel")), native("Ctrl+R"));
  EXPECT_EQ(listed.value(QStringLiteral("Open run, study or checkpoint…")), native("Ctrl+O"));
  EXPECT_EQ(listed.value(QStringLiteral("Start training (Train view)")), native("Ctrl+Return"));
  EXPECT_EQ(listed.value(QStringLiteral("Cancel the work in progress (analysis views)")), native("Esc"));
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

// The window saved in a desktop session (1366×768) and the application then rendered offscreen
// (--screenshot in a script): nothing to report, the picture has no warning bar in it.
TEST_F(App, ADesktopWindowGeometryIsNoProblemOffscreen) {
  window.reset();
  QSettings().setValue(QStringLiteral("geometry"),
                       QByteArray::fromHex("01d9d0cb00030000000000440000002600000510000002d8000000440000002600000510000002d80"
                                           "0000000000000000556000000440000002600000510000002d8"));
  window = std::make_unique<MainWindow>(runs.path());
  for (const auto& m : window->messageBar()->history())
    EXPECT_NE(m.kind, MessageKind::kWarning) << m.text.toStdString();
}

// A window saved on a monitor and opened on a laptop's smaller screen (or the other way): Qt
// refuses a geometry from a screen more than a quarter narrower or wider, which is no damage to
// say, only the default size to take; what is not a saved geometry at all is unreadable.
TEST(WindowGeometryTest, AGeometryFromAScreenOfAnotherSizeIsNoDamage) {
  QWidget window;
  window.resize(700, 500);
  const QByteArray here = window.saveGeometry();  // saved on this (offscreen, 800 px) screen
  // Saved at 1366×768: screen width 0x556 (the test above's bytes).
  const QByteArray monitor = QByteArray::fromHex(
      "01d9d0cb00030000000000440000002600000510000002d8000000440000002600000510000002d80"
      "0000000000000000556000000440000002600000510000002d8");
  ASSERT_FALSE(QWidget().restoreGeometry(monitor)) << "Qt takes it here: nothing to check";
  QWidget other;
  EXPECT_EQ(restore_window_geometry(other, here), GeometryRestore::kRestored);
  EXPECT_EQ(other.size(), QSize(700, 500));
  EXPECT_EQ(restore_window_geometry(other, monitor), GeometryRestore::kOtherScreen);
  EXPECT_EQ(restore_window_geometry(other, QByteArray("not a geometry, a damaged file")), GeometryRestore::kUnreadable);
  EXPECT_EQ(restore_window_geometry(other, monitor.left(3)), GeometryRestore::kUnreadable);
}

// A row that wraps gives a word-wrapped label the lines it needs at the width it gets (the Gates
// view's filmstrip status at 1024 px), not one line's height.
TEST(FlowLayoutTest, AWrappedLabelGetsTheHeightOfItsLines) {
  QWidget box;
  auto* flow = new FlowLayout(&box);
  flow->setContentsMargins(0, 0, 0, 0);
  auto* label = new QLabel(QStringLiteral("Model A's run has no probes (train with probes, or Compute probes in "
                                          "Selectivity)"), &box);
  label->setWordWrap(true);
  flow->addWidget(label);
  const int width = 150;
  const int lines = label->heightForWidth(width);
  ASSERT_GT(lines, 2 * label->fontMetrics().lineSpacing()) << "one line at 150 px: nothing to check";
  EXPECT_EQ(flow->heightForWidth(width), lines);
  box.resize(width, lines);
  flow->setGeometry(box.rect());
  EXPECT_EQ(label->geometry(), QRect(0, 0, width, lines));
}

#ifdef __linux__
// Background work gives way to the window (a niceness of 10), or runs at the niceness
// GEX_JOB_NICENESS asks (the test suite's 0, beside the other tests); a value out of range keeps 10.
TEST(JobTest, BackgroundWorkRunsAtTheNicenessAsked) {
  const QByteArray saved = qgetenv("GEX_JOB_NICENESS");
  const auto niceness_of_a_job = [] {
    int seen = -100;
    Job job(QStringLiteral("niceness"),
            [&](Job&) { seen = getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))); });
    job.start();
    test::wait_until([&] { return !job.isRunning(); }, 10000);
    return seen;
  };
  qunsetenv("GEX_JOB_NICENESS");
  EXPECT_EQ(niceness_of_a_job(), 10);
  qputenv("GEX_JOB_NICENESS", "3");
  EXPECT_EQ(niceness_of_a_job(), 3);
  qputenv("GEX_JOB_NICENESS", "40");
  EXPECT_EQ(niceness_of_a_job(), 10);
  qputenv("GEX_JOB_NICENESS", saved);
}
#endif

// Cancel stops the running job and those waiting their turn (each asked for again by the view as
// the running one ends: they stay cancelled), and nothing starts again until Compute.
TEST_F(App, AnalysisJobsCancelAsCancelledAndAreNotRestartedUntilCompute) {
  const QString waiting = copyOfShipped(QStringLiteral("theta-minus"), QStringLiteral("theta-minus"));
  const QString run = scannedCopyOfShipped(QStringLiteral("baseline"));  // both without probes
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  wait_until([&] { return !window->isBusy(); }, 120000);
  auto* view = window->selectivityView();
  EXPECT_FALSE(view->jobBar()->cancelButton()->isEnabled()) << "Cancel enabled with nothing running";
  view->setRuns({});
  view->setLimit(9000);  // not cached: a job starts, the other waits
  view->setRuns({run, waiting});
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
  EXPECT_FALSE(view->data().count(waiting));
  // Showing the runs again starts nothing; Compute does.
  view->setRuns({run, waiting});
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
