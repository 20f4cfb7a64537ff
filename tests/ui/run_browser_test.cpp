// The runs panel offscreen: the catalog's runs folder and a writer's liveness (its RUN/.lock), and
// the run browser's folder label.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QTemporaryDir>
#include <QTest>
#include <QTreeWidget>
#include <QTreeWidgetItemIterator>

#include <memory>
#include <optional>

#include "run_browser.h"
#include "run_catalog.h"
#include "train/run_dir.h"
#include "train/run_lock.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::wait_until;

TEST(RunCatalog, RefusesARunsFolderThatIsAFileAndKeepsItsOwn) {
  QTemporaryDir dir;
  RunCatalog catalog;
  const QString runs = dir.filePath(QStringLiteral("a/b/runs")), file = dir.filePath(QStringLiteral("notes.txt"));
  EXPECT_TRUE(catalog.setRunsDirectory(runs).isEmpty());  // created when missing
  EXPECT_TRUE(QFileInfo(runs).isDir());
  QFile(file).open(QIODevice::WriteOnly);
  const QString problem = catalog.setRunsDirectory(file);
  EXPECT_TRUE(problem.startsWith(file + QStringLiteral(": not a folder"))) << problem.toStdString();
  EXPECT_EQ(catalog.runsDirectory(), QFileInfo(runs).canonicalFilePath());
  EXPECT_FALSE(catalog.setRunsDirectory(file + QStringLiteral("/below")).isEmpty());  // under a file: cannot be made
}

// The label above the runs shows the folder whole where it fits (home as ~), else with its middle
// elided to the label's width, never cut at the edge; the tooltip has the full path.
TEST(RunBrowser, ShowsTheRunsFolderWholeOrElidedToItsWidth) {
  QTemporaryDir home;
  struct RestoreHome {
    QByteArray value;
    ~RestoreHome() { qputenv("HOME", value); }
  } restore{qgetenv("HOME")};  // also when an assertion returns early
  qputenv("HOME", QFile::encodeName(home.path()));
  const QString runs = home.filePath(QStringLiteral("projects/a-long-folder-name/ge-explorer/runs"));
  RunCatalog catalog;
  ASSERT_TRUE(catalog.setRunsDirectory(runs).isEmpty());
  RunBrowser browser(&catalog);
  auto* label = browser.findChild<QLabel*>();
  ASSERT_TRUE(label);
  const auto shownAt = [&](int width) {
    browser.resize(width, 400);
    browser.show();
    QApplication::processEvents();
    EXPECT_LE(label->fontMetrics().horizontalAdvance(label->text()), label->contentsRect().width()) << width;
    return label->text();
  };
  EXPECT_EQ(shownAt(900), QStringLiteral("Runs: ~/projects/a-long-folder-name/ge-explorer/runs"));
  const QString narrow = shownAt(240);
  EXPECT_TRUE(narrow.startsWith(QStringLiteral("Runs: ~/"))) << narrow.toStdString();
  EXPECT_TRUE(narrow.contains(QChar(0x2026))) << narrow.toStdString();  // …
  EXPECT_TRUE(narrow.endsWith(QStringLiteral("runs"))) << narrow.toStdString();
  EXPECT_EQ(label->toolTip(), QDir::toNativeSeparators(QFileInfo(runs).canonicalFilePath()));
}

// Two runs the Train view named, the same model a minute apart: in a panel narrower than their
// names the Run column stays inside the panel and is elided in the middle, so that both ends —
// the model and the time that tells them apart — show, never cut at the panel's edge; given room,
// the names show whole.
TEST(RunBrowser, ARunsNameWiderThanThePanelKeepsBothEnds) {
  QTemporaryDir dir;
  const QString runs = dir.filePath(QStringLiteral("runs"));
  TrainConfig config;
  config.steps = 1;
  for (const char* name : {"resnet20-ge-theta-minus-global-20261206-071200", "resnet20-ge-theta-minus-global-20261206-071300"})
    RunDirectory::create((runs + QLatin1Char('/') + QLatin1String(name)).toStdString(), config, "cpu");
  RunCatalog catalog;
  catalog.setRunsDirectory(runs);
  RunBrowser browser(&catalog);
  auto* tree = browser.findChild<QTreeWidget*>();
  ASSERT_EQ(tree->topLevelItemCount(), 2);
  const auto atWidth = [&](int width) {
    browser.resize(width, 400);
    browser.show();
    QApplication::processEvents();
    return tree->header()->sectionSize(0);
  };
  const int whole = atWidth(900);
  ASSERT_LT(whole, tree->viewport()->width()) << "900 pixels do not hold the names";
  const int narrow = atWidth(240);
  ASSERT_LT(tree->viewport()->width(), whole) << "the panel is not narrower than the names";
  EXPECT_LE(narrow, tree->viewport()->width());
  EXPECT_EQ(tree->textElideMode(), Qt::ElideMiddle);
  EXPECT_EQ(atWidth(900), whole);
}

// A running run is live while its writer holds RUN/.lock, and stalled (resumable) the moment it
// lets go without finishing (a SIGKILL), noticed by the catalog itself, though nothing is written.
TEST(RunCatalog, ARunningRunIsLiveExactlyWhileItsLockIsHeld) {
  QTemporaryDir dir;
  const QString runs = dir.filePath(QStringLiteral("runs")), path = runs + QStringLiteral("/r");
  TrainConfig config;
  config.steps = 1;
  auto run = RunDirectory::create(path.toStdString(), config, "cpu");
  run.set_status(RunStatus::kRunning);
  RunCatalog catalog;
  auto writer = std::make_unique<RunLock>(path.toStdString());
  catalog.setRunsDirectory(runs);
  RunBrowser browser(&catalog);
  // The name column says the state too (the Status column is off-panel at laptop width).
  const auto nameTip = [&] {
    const auto items = browser.findChild<QTreeWidget*>()->findItems(QStringLiteral("r"), Qt::MatchExactly | Qt::MatchRecursive);
    return items.size() == 1 ? items[0]->toolTip(0) : QString();
  };
  ASSERT_EQ(catalog.runs().size(), 1u);
  EXPECT_EQ(catalog.runs()[0].writerAlive, std::optional<bool>(true));
  EXPECT_TRUE(catalog.runs()[0].live());
  EXPECT_TRUE(nameTip().contains(QStringLiteral("\nrunning"))) << nameTip().toStdString();
  writer.reset();  // the writer is gone; run.json still says running
  ASSERT_TRUE(wait_until([&] { return catalog.runs()[0].stalled(); }, 10000));
  EXPECT_EQ(catalog.runs()[0].writerAlive, std::optional<bool>(false));
  EXPECT_FALSE(catalog.runs()[0].live());
  EXPECT_EQ(catalog.runs()[0].statusText(), QStringLiteral("stalled"));
  ASSERT_TRUE(wait_until([&] { return nameTip().contains(QStringLiteral("\nstalled: ")); }, 5000)) << nameTip().toStdString();
  EXPECT_TRUE(nameTip().contains(QStringLiteral("no process writes it any more"))) << nameTip().toStdString();
}

// Runs and a study's variants are listed as a file manager lists them, numbers by value: run-2
// before run-10 (a plain string order put run-10 and run-100 between run-1 and run-2).
TEST(RunCatalog, ListsRunsAndVariantsInNaturalOrder) {
  QTemporaryDir dir;
  const QString runs = dir.filePath(QStringLiteral("runs"));
  TrainConfig config;
  config.steps = 1;
  for (const char* name : {"run-10", "run-2", "run-1", "run-100", "b", "A"})
    RunDirectory::create((runs + QLatin1Char('/') + QLatin1String(name)).toStdString(), config, "cpu");
  const QString study = runs + QStringLiteral("/study");
  for (const char* variant : {"e16", "e2", "e4"})  // no study.json plan: the folders' own order
    RunDirectory::create((study + QLatin1Char('/') + QLatin1String(variant) + QStringLiteral("/seed-1")).toStdString(),
                         config, "cpu");
  test::write_text(study + QStringLiteral("/study.json"), "{}");
  RunCatalog catalog;
  catalog.setRunsDirectory(runs);
  QStringList names, variants;
  for (const RunRecord& r : catalog.runs())
    if (r.study.isEmpty()) names << r.name;
  for (const RunGroup& g : catalog.groups()) variants << g.variant;
  EXPECT_EQ(names.join(QLatin1Char(' ')).toStdString(), "A b run-1 run-2 run-10 run-100");
  EXPECT_EQ(variants.join(QLatin1Char(' ')).toStdString(), "e2 e4 e16");
}

// The filter narrows the list to the runs that hold every word typed, in any column or their
// folder; a study's run also by its study's and variant's names, its group and study showing
// while any of their runs does. Check all shown checks exactly those (a group, not its runs one
// by one); Uncheck all unchecks every one, shown or not.
TEST(RunBrowser, TheFilterNarrowsTheListAndCheckAllTakesWhatItShows) {
  QTemporaryDir dir;
  const QString runs = dir.filePath(QStringLiteral("runs"));
  TrainConfig config;
  config.steps = 1;
  for (const char* name : {"baseline-a", "ge-b", "ge-c"})
    RunDirectory::create((runs + QLatin1Char('/') + QLatin1String(name)).toStdString(), config, "cpu");
  const QString study = runs + QStringLiteral("/sweep");
  for (const char* variant : {"theta", "theta-plus"})
    for (const char* seed : {"seed-1", "seed-2"})
      RunDirectory::create((study + QLatin1Char('/') + QLatin1String(variant) + QLatin1Char('/') + QLatin1String(seed))
                               .toStdString(), config, "cpu");
  test::write_text(study + QStringLiteral("/study.json"), "{}");
  RunCatalog catalog;
  catalog.setRunsDirectory(runs);
  RunBrowser browser(&catalog);
  auto* tree = browser.findChild<QTreeWidget*>();
  const auto shown = [&] {
    QStringList names;
    for (QTreeWidgetItemIterator it(tree, QTreeWidgetItemIterator::NotHidden); *it; ++it) names << (*it)->text(0);
    return names.join(QLatin1Char('|')).toStdString();
  };
  EXPECT_EQ(browser.filterHint(), QString());
  browser.setFilter(QStringLiteral("GE-"));  // case-insensitive
  EXPECT_EQ(shown(), "ge-b|ge-c");
  EXPECT_EQ(browser.filterHint(), QStringLiteral("2 of 7 runs"));
  browser.setFilter(QStringLiteral("plus seed-2"));  // every word; the variant's name counts
  EXPECT_EQ(shown(), "sweep (study)|theta-plus (2 runs)|seed-2");
  browser.setFilter(QStringLiteral("nothing-like-it"));
  EXPECT_EQ(shown(), "");
  EXPECT_EQ(browser.filterHint(), QStringLiteral("No run holds every word (Esc clears the filter)"));
  browser.setChecked(runs + QStringLiteral("/ge-b"), true);  // still drawn: the hint says so
  EXPECT_TRUE(browser.filterHint().endsWith(QStringLiteral("the checked runs stay drawn")));
  browser.show();
  QApplication::setActiveWindow(&browser);
  browser.focusFilter();
  QTest::keyClick(browser.findChild<QLineEdit*>(), Qt::Key_Escape);
  EXPECT_EQ(browser.filter(), QString());
  EXPECT_EQ(browser.filterHint(), QString());
  browser.setChecked(runs + QStringLiteral("/ge-b"), false);
  browser.setFilter(QStringLiteral("created"));  // the status column
  EXPECT_EQ(shown(), "baseline-a|ge-b|ge-c|sweep (study)|theta (2 runs)|seed-1|seed-2|theta-plus (2 runs)|seed-1|seed-2");

  browser.setChecked(runs + QStringLiteral("/baseline-a"), true);
  browser.setFilter(QStringLiteral("theta"));
  browser.checkShown();
  EXPECT_EQ(browser.checkedRuns(), QStringList{runs + QStringLiteral("/baseline-a")});  // hidden: kept as it was
  EXPECT_EQ(browser.checkedGroups(), (QStringList{QFileInfo(study).canonicalFilePath() + QStringLiteral("/theta"),
                                                  QFileInfo(study).canonicalFilePath() + QStringLiteral("/theta-plus")}));
  browser.uncheckAll();
  EXPECT_TRUE(browser.checkedRuns().isEmpty());
  EXPECT_TRUE(browser.checkedGroups().isEmpty());
  // A rescan (a run appears) keeps the filter.
  RunDirectory::create((runs + QStringLiteral("/theta-new")).toStdString(), config, "cpu");
  catalog.rescan();
  EXPECT_EQ(browser.filter(), QStringLiteral("theta"));
  EXPECT_EQ(shown(), "sweep (study)|theta (2 runs)|seed-1|seed-2|theta-plus (2 runs)|seed-1|seed-2|theta-new");
  // A run's settings in gex's words, though the Model column writes GE-θ⁻.
  TrainConfig ge = config;
  ge.model.attention = AttentionKind::kGE;
  ge.model.variant = GEVariant::kThetaMinus;
  RunDirectory::create((runs + QStringLiteral("/mine")).toStdString(), ge, "cpu");
  catalog.rescan();
  browser.setFilter(QStringLiteral("ge theta-minus"));
  EXPECT_EQ(shown(), "mine");
}

}  // namespace
}  // namespace gex::ui
