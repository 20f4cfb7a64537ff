// The runs panel offscreen: the catalog's runs folder and a writer's liveness (its RUN/.lock), and
// the run browser's folder label.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QTemporaryDir>
#include <QTreeWidget>

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

}  // namespace
}  // namespace gex::ui
