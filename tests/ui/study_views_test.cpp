// A study in the application: the run browser groups its runs under it, Curves and Compare draw a
// group as the mean of its runs with a band, and the Compare table says how sure the difference
// is — all against values worked out here from hand-written runs.
#include <gtest/gtest.h>

#include <QApplication>
#include <QComboBox>
#include <QFileDialog>
#include <QLabel>
#include <QSlider>
#include <QTableWidget>
#include <QTimer>
#include <QToolButton>
#include <QTreeWidget>

#include <cmath>

#include <QDate>
#include <QDir>
#include <QTemporaryDir>

#include "analysis_store.h"
#include "compare_view.h"
#include "pruning_view.h"
#include "selectivity_view.h"
#include "curve_plot.h"
#include "job_bar.h"
#include "probe_timeline.h"
#include "qcp.h"
#include "curves_view.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "study_dialog.h"
#include "train/run_dir.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::wait_until;

// DIR/<variant>/seed-<k>: a finished run whose val top-1 errors are `errors` at epochs 1, 2, …
void write_run(const QString& study, const QString& variant, uint64_t seed,
               const std::vector<double>& errors) {
  TrainConfig c;
  c.data = "synthetic";
  c.epochs = int64_t(errors.size());
  c.seed = seed;
  c.model.input_size = 16;
  if (variant != QLatin1String("baseline")) c.model.attention = AttentionKind::kGE;
  const QString dir =
      study + QLatin1Char('/') + variant + QStringLiteral("/seed-") + QString::number(seed);
  QDir().mkpath(QFileInfo(dir).absolutePath());
  auto run = RunDirectory::create(dir.toStdString(), c, "cpu");
  std::vector<MetricsRow> rows;
  for (size_t e = 0; e < errors.size(); ++e) {
    MetricsRow train;
    train.step = int64_t(10 * e + 5);
    train.epoch = double(e) + 0.5;
    train.split = "train";
    train.loss = 1.0 / double(seed + e + 1);
    train.top1_error = errors[e] + 0.01;
    train.images_per_second = 100;
    MetricsRow val;
    val.step = int64_t(10 * (e + 1));
    val.epoch = double(e + 1);
    val.split = "val";
    val.top1_error = errors[e];
    rows.push_back(train);
    rows.push_back(val);
  }
  run.append_metrics(rows);
  run.set_status(RunStatus::kFinished);
}

// A plot's lines by name, and its bands' edges (the graphs drawn without a pen), in plot order.
std::pair<QStringList, std::vector<QCPGraph*>> lines_and_bands(QCustomPlot* plot) {
  QStringList names;
  std::vector<QCPGraph*> bands;
  for (int i = 0; i < plot->graphCount(); ++i) {
    auto* g = plot->graph(i);
    if (g->pen().style() == Qt::NoPen) bands.push_back(g);
    else names << g->name();
  }
  return {names, bands};
}

class StudyApp : public App {
 protected:
  void SetUp() override {
    App::SetUp();
    study = runs.filePath(QStringLiteral("my-study"));
    test::write_text(study + QStringLiteral("/study.json"),
                     "{}");  // the plan's order unknown: folders by name
    // Seeds 1–3 of the baseline end at 10, 12, 11 %; GE-θ⁻ at 9, 11, 10.5 %.
    write_run(study, QStringLiteral("baseline"), 1, {0.30, 0.10});
    write_run(study, QStringLiteral("baseline"), 2, {0.34, 0.12});
    write_run(study, QStringLiteral("baseline"), 3, {0.32, 0.11});
    write_run(study, QStringLiteral("theta-minus"), 1, {0.29, 0.09});
    write_run(study, QStringLiteral("theta-minus"), 2, {0.31, 0.11});
    write_run(study, QStringLiteral("theta-minus"), 3, {0.30, 0.105});
    window->catalog()->rescan();
    for (const QString& key : window->browser()->checkedRuns() + window->browser()->checkedGroups())
      window->browser()->setChecked(key, false);  // the shipped ones
  }
  QString group(const QString& variant) const {
    return QFileInfo(study).canonicalFilePath() + QLatin1Char('/') + variant;
  }
  QString study;
  // Analyses for every run (their files over the first kLimit images), block layer1.0:
  // units (0.1·seed, 0.9); csi-desc error 0.1·seed at ratio 0, 0.5 + 0.1·seed at ratio 1.
  // Probes of GE-θ⁻ at steps 10 and 20 = epochs 1 and 2 (seed 3 only at the first): units
  // (0.2 + 0.01·seed·epoch, 0.8), error 0.3·epoch + 0.01·seed at ratio 0, 1 at ratio 1. The
  // baseline's seed 1 alone has a probe (step 5, epoch 0.5): its group is not probed.
  void writeAnalyses() {
    const QString block = kBlock;
    const auto csi = [](double a, double b) {
      return QStringLiteral("layer,unit,csi,max_class,mean_activation\nlayer1.0,0,%1,0,1\nlayer1.0,1,%2,0,1\n")
          .arg(a).arg(b).toUtf8();
    };
    const auto curve = [](double at0, double at1) {
      return QStringLiteral("layer,order,ratio,repeat,top1_error,top5_error\nlayer1.0,csi-desc,0,0,%1,0\n"
                            "layer1.0,csi-desc,1,0,%2,0\n").arg(at0).arg(at1).toUtf8();
    };
    for (const QString& variant : {QStringLiteral("baseline"), QStringLiteral("theta-minus")})
      for (int seed = 1; seed <= 3; ++seed) {
        const QString run = QStringLiteral("%1/%2/seed-%3").arg(study, variant).arg(seed);
        test::write_text(run + QStringLiteral("/checkpoints/best.safetensors"), "");  // never read: analyses below
        RunRecord r;
        r.path = QFileInfo(run).canonicalFilePath();
        test::write_text(analysis_path(r, selectivity_file(kLimit)), csi(0.1 * seed, 0.9));
        test::write_text(analysis_path(r, pruning_file(block, QStringLiteral("csi-desc"), kLimit)),
                         curve(0.1 * seed, 0.5 + 0.1 * seed));
      }
    const auto probe = [&](const QString& run, int step, double epoch, const QByteArray& s, const QByteArray& p) {
      const QString dir = run + QStringLiteral("/probes/step-%1").arg(step, 8, 10, QLatin1Char('0'));
      test::write_text(dir + QStringLiteral("/selectivity.csv"), s);
      test::write_text(dir + QStringLiteral("/prune-layer1.0.csv"), p);
      return QStringLiteral("%1,%2,1,0.2,step-%3\n").arg(step).arg(epoch).arg(step, 8, 10, QLatin1Char('0')).toUtf8();
    };
    for (int seed = 1; seed <= 3; ++seed) {
      const QString run = QStringLiteral("%1/theta-minus/seed-%2").arg(study).arg(seed);
      QByteArray index = "step,epoch,wall_seconds,top1_error,dir\n";
      for (int epoch = 1; epoch <= (seed == 3 ? 1 : 2); ++epoch)
        index += probe(run, 10 * epoch, epoch, csi(0.2 + 0.01 * seed * epoch, 0.8), curve(0.3 * epoch + 0.01 * seed, 1));
      test::write_text(run + QStringLiteral("/probes/index.csv"), index);
    }
    const QString probedBaseline = study + QStringLiteral("/baseline/seed-1");
    test::write_text(probedBaseline + QStringLiteral("/probes/index.csv"),
                     "step,epoch,wall_seconds,top1_error,dir\n" + probe(probedBaseline, 5, 0.5, csi(0.7, 0.7), curve(0.7, 0.7)));
    window->catalog()->rescan();
  }
  static constexpr int kLimit = CompareView::kLimit;
  const QString kBlock = QStringLiteral("layer1.0");
};

// A group on a side of Compare: its panels pool its runs (not its first run's alone): the
// selectivity of all their units, the mean pruning curve with its band — from the best
// checkpoints' analyses, or at the timeline's epoch where every run of the group has probes (a
// run not probed at that epoch left out, a group only partly probed not on the timeline).
TEST_F(StudyApp, CompareViewPoolsAGroupsRuns) {
  const QString block = kBlock;
  writeAnalyses();

  // Shown on the shipped study first: at layer3.2 its runs' shipped analyses (read, nothing
  // computed). At layer1.0 its groups' analyses start, one at a time; picking another pair drops
  // those still waiting (the one running ends, its result kept). (The shipped runs' computed
  // analyses go to the cache, which test mode shares between runs: emptied here.)
  for (const QString& seed : {QStringLiteral("seed-1"), QStringLiteral("seed-2"), QStringLiteral("seed-3")})
    if (const RunRecord* r = window->catalog()->find(
            QFileInfo(test::shipped(QStringLiteral("baseline")) + QStringLiteral("/../") + seed).canonicalFilePath())) {
      EXPECT_TRUE(analysis_path(*r, selectivity_file(CompareView::kLimit)).startsWith(r->path + QStringLiteral("/analyses/")));
      const QString cached = analysis_path(*r, pruning_file(block, QStringLiteral("csi-desc"), CompareView::kLimit));
      ASSERT_FALSE(cached.startsWith(QFileInfo(r->path).canonicalFilePath())) << "never a shipped file";
      QFile::remove(cached);
    }
  auto* view = window->compareView();
  ASSERT_TRUE(window->showView(QStringLiteral("compare")));
  ASSERT_TRUE(wait_until([&] {
    for (auto* box : view->findChildren<QComboBox*>())
      if (box->findText(block) >= 0) return true;
    return false;
  }, 30000));  // the blocks come from the model-info job
  view->setBlock(QStringLiteral("layer3.2"));
  EXPECT_FALSE(view->isBusy());
  EXPECT_EQ(view->pooledRuns(0), 3);
  EXPECT_EQ(view->pruning(0).size(), 11u);
  view->setBlock(block);
  ASSERT_TRUE(view->isBusy());
  view->setPair(group(QStringLiteral("baseline")), group(QStringLiteral("theta-minus")));
  ASSERT_TRUE(wait_until([&] { return !view->isBusy(); }, 120000));  // every figure of this pair written above
  const QString shippedSeed3 = QFileInfo(test::shipped(QStringLiteral("baseline")) + QStringLiteral("/../seed-3")).canonicalFilePath();
  const RunRecord* unwanted = window->catalog()->find(shippedSeed3);
  ASSERT_TRUE(unwanted);
  EXPECT_FALSE(QFileInfo::exists(analysis_path(*unwanted, pruning_file(block, QStringLiteral("csi-desc"), CompareView::kLimit))));

  // The baseline: best checkpoints, all three runs (its one probe is not on the timeline).
  ASSERT_EQ(view->panelRuns(0).size(), 3u);
  EXPECT_EQ(view->pooledRuns(0), 3);
  ASSERT_EQ(view->selectivity(0).size(), 1u);
  auto units = view->selectivity(0)[0].csi;
  std::sort(units.begin(), units.end());
  const std::vector<double> expected = {0.1, 0.2, 0.3, 0.9, 0.9, 0.9};
  ASSERT_EQ(units.size(), expected.size());
  for (size_t i = 0; i < units.size(); ++i) EXPECT_NEAR(units[i], expected[i], 1e-12);
  ASSERT_EQ(view->pruning(0).size(), 2u);
  EXPECT_NEAR(view->pruning(0)[0].top1_error, (0.1 + 0.2 + 0.3) / 3, 1e-12);
  EXPECT_NEAR(view->pruning(0)[1].top1_error, (0.6 + 0.7 + 0.8) / 3, 1e-12);
  // Drawn: each side's band (min–max) below its mean line, named by variant and runs pooled.
  const auto [names, bands] = lines_and_bands(view->pruningPlot());
  ASSERT_EQ(bands.size(), 4u);  // low and high of each side
  EXPECT_NEAR(bands[0]->data()->at(1)->value, 60.0, 1e-9);
  EXPECT_NEAR(bands[1]->data()->at(1)->value, 80.0, 1e-9);
  EXPECT_EQ(names.value(0), QStringLiteral("baseline (mean, min–max of 3 runs)"));

  // GE-θ⁻: every run probed, so its panels follow the timeline — epochs 1 and 2 only.
  auto* timeline = view->timeline();
  EXPECT_EQ(timeline->slider()->maximum(), 1);
  EXPECT_NEAR(timeline->currentEpoch(), 2.0, 1e-12);
  EXPECT_EQ(view->pooledRuns(1), 2);  // seed 3 has no probe at epoch 2
  units = view->selectivity(1)[0].csi;
  std::sort(units.begin(), units.end());
  ASSERT_EQ(units.size(), 4u);
  EXPECT_NEAR(units[0], 0.22, 1e-12);
  EXPECT_NEAR(units[1], 0.24, 1e-12);
  EXPECT_NEAR(view->pruning(1)[0].top1_error, (0.61 + 0.62) / 2, 1e-12);
  EXPECT_EQ(names.value(1), QStringLiteral("GE-θ⁻ (mean, min–max of 2 of 3 runs)"));
  timeline->slider()->setValue(0);
  EXPECT_EQ(view->pooledRuns(1), 3);
  EXPECT_EQ(view->selectivity(1)[0].csi.size(), 6u);
  EXPECT_NEAR(view->pruning(1)[0].top1_error, (0.31 + 0.32 + 0.33) / 3, 1e-12);
  EXPECT_EQ(view->pooledRuns(0), 3);  // the baseline's panels do not move with the slider
  EXPECT_NEAR(view->pruning(0)[0].top1_error, 0.2, 1e-12);
  QStringList csiNames;
  for (int i = 0; i < view->selectivityPlot()->graphCount(); ++i)
    if (view->selectivityPlot()->graph(i)->pen().style() != Qt::NoPen) csiNames << view->selectivityPlot()->graph(i)->name();
  EXPECT_EQ(csiNames, QStringList({QStringLiteral("baseline (3 runs)"), QStringLiteral("GE-θ⁻ (3 runs)")}));
}

// A checked group in the Selectivity and Pruning views is its runs pooled, as in Compare: one box
// per block of all their units, the mean pruning curve with the runs' min–max — from their best
// checkpoints, or at the timeline's step where every run of the group has probes (a run without a
// probe at that step left out; over training, the steps every run has).
TEST_F(StudyApp, SelectivityAndPruningViewsPoolAGroupsRuns) {
  writeAnalyses();
  const QString baseline = group(QStringLiteral("baseline")), ge = group(QStringLiteral("theta-minus"));
  window->browser()->setChecked(baseline, true);
  window->browser()->setChecked(ge, true);

  auto* selectivity = window->selectivityView();
  selectivity->setLimit(kLimit);
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  ASSERT_TRUE(wait_until([&] { return !selectivity->isBusy() && selectivity->data().size() == 2; }, 30000));
  const auto sorted_units = [&](const QString& key) {
    auto units = selectivity->data().at(key).at(0).csi;
    std::sort(units.begin(), units.end());
    return units;
  };
  // The baseline: best checkpoints, all three runs; its one probe (seed 1) not on the timeline.
  EXPECT_EQ(selectivity->pooledRuns(baseline), 3);
  const std::vector<double> best = {0.1, 0.2, 0.3, 0.9, 0.9, 0.9};
  auto units = sorted_units(baseline);
  ASSERT_EQ(units.size(), best.size());
  for (size_t i = 0; i < units.size(); ++i) EXPECT_NEAR(units[i], best[i], 1e-12);
  // GE-θ⁻ at the newest step (20): seeds 1 and 2.
  auto* timeline = selectivity->timeline();
  EXPECT_EQ(timeline->steps(), (std::vector<int64_t>{10, 20}));
  EXPECT_EQ(timeline->currentStep(), 20);
  EXPECT_EQ(selectivity->pooledRuns(ge), 2);
  units = sorted_units(ge);
  ASSERT_EQ(units.size(), 4u);
  EXPECT_NEAR(units[0], 0.22, 1e-12);
  EXPECT_NEAR(units[1], 0.24, 1e-12);
  QStringList boxes;
  for (int i = 0; i < selectivity->boxPlot()->plottableCount(); ++i) boxes << selectivity->boxPlot()->plottable(i)->name();
  EXPECT_EQ(boxes.join(QLatin1Char('|')), QStringLiteral("my-study · baseline (3 runs)|my-study · theta-minus (2 of 3 runs)"));
  // Over training: GE-θ⁻ alone (the baseline's group is not probed), at step 10 only, where all
  // three runs have a probe: the median of (0.21, 0.22, 0.23, 0.8, 0.8, 0.8).
  ASSERT_EQ(selectivity->overTraining().size(), 1u);
  const auto& medians = selectivity->overTraining().at(ge);
  ASSERT_EQ(medians.size(), 1u);
  ASSERT_EQ(medians[0].size(), 1u);
  EXPECT_NEAR(medians[0][0], (0.23 + 0.8) / 2, 1e-12);
  EXPECT_TRUE(selectivity->jobBar()->status().endsWith(QStringLiteral("the others at their best checkpoint.")))
      << selectivity->jobBar()->status().toStdString();
  timeline->slider()->setValue(0);
  EXPECT_EQ(selectivity->pooledRuns(ge), 3);
  EXPECT_EQ(selectivity->data().at(ge).at(0).csi.size(), 6u);
  window->browser()->setChecked(baseline, false);  // every run shown is at a probe
  EXPECT_EQ(selectivity->jobBar()->status(), QStringLiteral("At step 10 (the probes' test images)."));
  window->browser()->setChecked(baseline, true);

  auto* pruning = window->pruningView();
  pruning->setLimit(kLimit);
  pruning->setOrders({QStringLiteral("csi-desc")});
  ASSERT_TRUE(window->showView(QStringLiteral("pruning")));
  ASSERT_TRUE(wait_until([&] { return pruning->blockBox()->findText(kBlock) >= 0; }, 30000));  // the model-info job
  pruning->setBlock(kBlock);
  ASSERT_TRUE(wait_until([&] { return !pruning->isBusy() && pruning->curves().size() == 2; }, 30000));
  const auto mean_at = [](const std::vector<PruningPoint>& points, double ratio) {
    double sum = 0;
    int n = 0;
    for (const auto& p : points)
      if (p.ratio == ratio) sum += p.top1_error, ++n;
    return n ? sum / n : -1.0;
  };
  const auto csiDesc = QStringLiteral("csi-desc");
  EXPECT_EQ(pruning->timeline()->currentStep(), 10) << "the views' timelines move together";
  pruning->timeline()->slider()->setValue(1);
  EXPECT_EQ(pruning->timeline()->currentStep(), 20);
  EXPECT_NEAR(mean_at(pruning->curves().at({baseline, csiDesc}), 0), (0.1 + 0.2 + 0.3) / 3, 1e-12);
  EXPECT_NEAR(mean_at(pruning->curves().at({baseline, csiDesc}), 1), (0.6 + 0.7 + 0.8) / 3, 1e-12);
  EXPECT_NEAR(mean_at(pruning->curves().at({ge, csiDesc}), 0), (0.61 + 0.62) / 2, 1e-12);
  EXPECT_TRUE(pruning->finalCurves().empty()) << "at the last step: no faint final curve";
  // Drawn: each group's mean with the min–max of its runs, named with the runs pooled.
  const auto [names, bands] = lines_and_bands(pruning->plot());
  EXPECT_EQ(names.join(QLatin1Char('|')), QStringLiteral("my-study · baseline · csi-desc (mean, min–max of 3 runs)|"
                                                         "my-study · theta-minus · csi-desc (mean, min–max of 2 of 3 runs)"));
  ASSERT_EQ(bands.size(), 4u);
  EXPECT_NEAR(bands[0]->data()->at(0)->value, 10.0, 1e-9);
  EXPECT_NEAR(bands[1]->data()->at(0)->value, 30.0, 1e-9);
  EXPECT_NEAR(bands[1]->data()->at(1)->value, 80.0, 1e-9);
  // At step 10: all three runs; faint behind, their last probes' (seeds 1 and 2 at step 20).
  pruning->timeline()->slider()->setValue(0);
  EXPECT_NEAR(mean_at(pruning->curves().at({ge, csiDesc}), 0), (0.31 + 0.32 + 0.33) / 3, 1e-12);
  ASSERT_TRUE(pruning->finalCurves().count({ge, csiDesc}));
  EXPECT_NEAR(mean_at(pruning->finalCurves().at({ge, csiDesc}), 0), (0.61 + 0.62) / 2, 1e-12);
  EXPECT_NEAR(mean_at(pruning->curves().at({baseline, csiDesc}), 0), 0.2, 1e-12) << "best checkpoints: not moved";
}

// "Start study…" proposes a new folder (today's, or the first free one after it, never an earlier
// study's, which would be continued) and says what the folder it is given will do.
TEST(StudyDialogTest, ProposesANewFolderAndSaysWhatAFolderWillDo) {
  QTemporaryDir runs;
  const QString today = runs.filePath(QStringLiteral("study-") + QDate::currentDate().toString(Qt::ISODate));
  {
    StudyDialog dialog(runs.path(), QStringLiteral("global"));
    EXPECT_EQ(dialog.directory(), today);
    EXPECT_EQ(dialog.folderNote(), QStringLiteral("A new study"));
    EXPECT_TRUE(dialog.canStart());
  }
  ASSERT_TRUE(QDir().mkpath(today));
  test::write_text(today + QStringLiteral("/study.json"), "{}");
  ASSERT_TRUE(QDir().mkpath(today + QStringLiteral("-2")));  // empty, but there: not proposed either
  StudyDialog dialog(runs.path(), QStringLiteral("global"));
  EXPECT_EQ(dialog.directory(), today + QStringLiteral("-3"));
  dialog.setDirectory(today);
  EXPECT_TRUE(dialog.folderNote().startsWith(QStringLiteral("Continues the study in this folder"))) << dialog.folderNote().toStdString();
  EXPECT_TRUE(dialog.canStart());
  const QString foreign = runs.filePath(QStringLiteral("photos"));
  ASSERT_TRUE(QDir().mkpath(foreign));
  test::write_text(foreign + QStringLiteral("/cat.jpg"), "x");
  dialog.setDirectory(foreign);
  EXPECT_TRUE(dialog.folderNote().contains(QStringLiteral("holds something else"))) << dialog.folderNote().toStdString();
  EXPECT_FALSE(dialog.canStart());
  dialog.setDirectory(foreign + QStringLiteral("/cat.jpg"));
  EXPECT_EQ(dialog.folderNote().toStdString(), (foreign + QStringLiteral("/cat.jpg is a file, not a folder; choose a folder")).toStdString());
  EXPECT_FALSE(dialog.canStart());
  dialog.setVariants({});
  dialog.setDirectory(today + QStringLiteral("-3"));
  EXPECT_FALSE(dialog.canStart()) << "no variant chosen";
}

// "…" beside the folder opens a chooser where the folder would be; a study chosen is continued, an
// empty folder taken as it is, and any other folder (the runs folder) gets a new study inside it.
TEST(StudyDialogTest, TheFolderChooserContinuesAStudyOrStartsOneInTheFolderChosen) {
  QTemporaryDir runs;
  const QString today = QStringLiteral("study-") + QDate::currentDate().toString(Qt::ISODate);
  const QString old = runs.filePath(QStringLiteral("old")), empty = runs.filePath(QStringLiteral("empty"));
  ASSERT_TRUE(QDir().mkpath(old) && QDir().mkpath(empty));
  test::write_text(old + QStringLiteral("/study.json"), "{}");
  StudyDialog dialog(runs.path(), QStringLiteral("global"));
  auto* browse = dialog.findChild<QToolButton*>(QStringLiteral("browseStudy"));
  ASSERT_TRUE(browse);
  const auto choose = [&](const QString& folder) {
    QString openedAt;
    QTimer timer;
    QObject::connect(&timer, &QTimer::timeout, &timer, [&] {
      auto* chooser = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
      if (!chooser) return;
      timer.stop();
      openedAt = chooser->directory().absolutePath();
      chooser->setDirectory(folder);  // opened in it, nothing selected: the folder itself
      static_cast<QDialog*>(chooser)->accept();
    });
    timer.start(20);
    browse->click();
    return openedAt;
  };
  EXPECT_EQ(choose(old).toStdString(), QDir(runs.path()).absolutePath().toStdString()) << "the proposed folder is not there yet: its parent";
  EXPECT_EQ(dialog.directory().toStdString(), old.toStdString());
  EXPECT_TRUE(dialog.folderNote().startsWith(QStringLiteral("Continues the study"))) << dialog.folderNote().toStdString();
  EXPECT_EQ(choose(empty).toStdString(), old.toStdString()) << "opened at the study chosen before";
  EXPECT_EQ(dialog.directory().toStdString(), empty.toStdString());
  choose(runs.path());  // holds other things: a new study inside it
  EXPECT_EQ(dialog.directory().toStdString(), runs.filePath(today).toStdString());
  EXPECT_EQ(dialog.folderNote().toStdString(), "A new study");
  EXPECT_TRUE(dialog.canStart());
}

TEST_F(StudyApp, TheRunBrowserGroupsAStudysRunsUnderIt) {
  const auto groups = test::user_groups(*window->catalog());
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].variant, QStringLiteral("baseline"));
  EXPECT_EQ(groups[0].runs.size(), 3);
  auto* tree = window->browser()->findChild<QTreeWidget*>();
  QTreeWidgetItem* studyItem = nullptr;
  for (int i = 0; i < tree->topLevelItemCount(); ++i)
    if (tree->topLevelItem(i)->text(0).startsWith(QStringLiteral("my-study")))
      studyItem = tree->topLevelItem(i);
  ASSERT_NE(studyItem, nullptr);
  ASSERT_EQ(studyItem->childCount(), 2);
  QTreeWidgetItem* base = studyItem->child(0);
  EXPECT_TRUE(base->text(0).startsWith(QStringLiteral("baseline"))) << base->text(0).toStdString();
  ASSERT_EQ(base->childCount(), 3);
  EXPECT_EQ(base->child(0)->text(0), QStringLiteral("seed-1"));
  EXPECT_EQ(base->text(3), QStringLiteral("11.00 % (mean)")) << "best errors 10, 12, 11";
  // One checkbox for the group: it goes to the Curves view as a group, not as three runs.
  base->setCheckState(0, Qt::Checked);
  EXPECT_EQ(window->browser()->checkedGroups(), QStringList{group(QStringLiteral("baseline"))});
  EXPECT_TRUE(window->browser()->checkedRuns().isEmpty());
  EXPECT_EQ(window->curvesView()->groups(), QStringList{group(QStringLiteral("baseline"))});
  // A run checked on its own is drawn on its own; its group, collapsed, opens when the browser is
  // filled again (at the next start too), so that the check is not hidden.
  base->setExpanded(true);
  base->child(1)->setCheckState(0, Qt::Checked);
  EXPECT_EQ(window->browser()->checkedRuns().size(), 1);
  base->setExpanded(false);
  window->catalog()->rescan();
  const auto baselineGroup = [&]() -> QTreeWidgetItem* {  // the browser's item, as it is now filled
    for (QTreeWidgetItemIterator it(window->browser()->findChild<QTreeWidget*>()); *it; ++it)
      if ((*it)->parent() && (*it)->parent()->text(0).startsWith(QStringLiteral("my-study")) &&
          (*it)->text(0).startsWith(QStringLiteral("baseline (")))
        return *it;
    return nullptr;
  };
  ASSERT_NE(baselineGroup(), nullptr);
  EXPECT_TRUE(baselineGroup()->isExpanded());
  // The next start restores the check, and the group opens with it.
  baselineGroup()->setExpanded(false);
  window.reset();
  window = std::make_unique<MainWindow>(runs.path());
  window->show();
  ASSERT_EQ(window->browser()->checkedRuns().size(), 1);
  ASSERT_NE(baselineGroup(), nullptr);
  EXPECT_TRUE(baselineGroup()->isExpanded());
}

TEST_F(StudyApp, AStudyWrittenByAnotherProcessGrowsInTheBrowser) {
  // As `gex study` in a terminal does: a new seed of a variant, then a new variant.
  write_run(study, QStringLiteral("baseline"), 4, {0.33, 0.13});
  ASSERT_TRUE(wait_until(
      [&] {
        const RunGroup* g = window->catalog()->findGroup(group(QStringLiteral("baseline")));
        return g && g->runs.size() == 4;
      },
      10000));
  write_run(study, QStringLiteral("theta-plus"), 1, {0.28, 0.08});
  ASSERT_TRUE(wait_until([&] { return test::user_groups(*window->catalog()).size() == 3; }, 10000));
  EXPECT_EQ(test::user_groups(*window->catalog())[2].variant, QStringLiteral("theta-plus"));
}

TEST_F(StudyApp, CurvesDrawAGroupAsItsMeanWithABand) {
  auto* curves = window->curvesView();
  window->browser()->setChecked(group(QStringLiteral("baseline")), true);
  curves->bandBox()->setCurrentIndex(0);  // min–max
  const auto& series = curves->errorPlot()->series();
  ASSERT_EQ(series.size(), 2u);  // train (dashed) and val
  const Series& val = series[1];
  ASSERT_EQ(val.x, (std::vector<double>{1, 2}));
  EXPECT_NEAR(val.y[0], 32, 1e-9);  // (30 + 34 + 32) / 3
  EXPECT_NEAR(val.y[1], 11, 1e-9);
  const auto [low, high] = curves->errorPlot()->band(1);
  ASSERT_EQ(low.size(), 2u);
  EXPECT_NEAR(low[0], 30, 1e-9);
  EXPECT_NEAR(high[0], 34, 1e-9);
  EXPECT_NEAR(low[1], 10, 1e-9);
  EXPECT_NEAR(high[1], 12, 1e-9);
  EXPECT_TRUE(curves->errorPlot()->band(0).first.empty()) << "the train curve has no band";
  curves->bandBox()->setCurrentIndex(1);  // ± sd: sd of 30, 34, 32 is 2; of 10, 12, 11 is 1
  const auto [sdLow, sdHigh] = curves->errorPlot()->band(1);
  EXPECT_NEAR(sdLow[0], 30, 1e-9);
  EXPECT_NEAR(sdHigh[0], 34, 1e-9);
  EXPECT_NEAR(sdLow[1], 10, 1e-9);
  EXPECT_NEAR(sdHigh[1], 12, 1e-9);
  // Loss: the mean of 1/(seed + 1) at step 5 over seeds 1, 2, 3.
  const Series& loss = curves->lossPlot()->series()[0];
  EXPECT_NEAR(loss.y[0], (1 / 2.0 + 1 / 3.0 + 1 / 4.0) / 3, 1e-6);  // metrics.csv keeps 6 digits
  const auto lossBand = curves->lossPlot()->band(0);
  ASSERT_FALSE(lossBand.first.empty());
  EXPECT_TRUE(curves->errorPlot()->series()[1].legendLabel.endsWith(QStringLiteral("(mean ± sd of 3 runs)")))
      << curves->errorPlot()->series()[1].legendLabel.toStdString();
  // A variant of one run so far is that run, not "a mean, min–max of 1 run".
  write_run(study, QStringLiteral("theta-plus"), 1, {0.28, 0.08});
  ASSERT_TRUE(wait_until([&] { return window->catalog()->findGroup(group(QStringLiteral("theta-plus"))); }, 10000));
  window->browser()->setChecked(group(QStringLiteral("baseline")), false);
  window->browser()->setChecked(group(QStringLiteral("theta-plus")), true);
  ASSERT_EQ(curves->errorPlot()->series().size(), 2u);
  EXPECT_TRUE(curves->errorPlot()->series()[1].legendLabel.endsWith(QStringLiteral("theta-plus (1 run)")))
      << curves->errorPlot()->series()[1].legendLabel.toStdString();
}

TEST_F(StudyApp, CompareSaysHowSureTheDifferenceIs) {
  auto* compare = window->compareView();
  compare->setPair(group(QStringLiteral("baseline")), group(QStringLiteral("theta-minus")));
  EXPECT_EQ(compare->choice(0), group(QStringLiteral("baseline")));
  EXPECT_EQ(compare->choice(1), group(QStringLiteral("theta-minus")));
  auto* table = compare->table();
  ASSERT_EQ(table->rowCount(), 2);
  EXPECT_EQ(table->item(0, 0)->text(), QStringLiteral("baseline"));
  EXPECT_EQ(table->item(1, 0)->text(), QStringLiteral("GE-θ⁻"));
  EXPECT_EQ(table->item(0, 2)->text(), QStringLiteral("11.00 ± 1.00 %"));
  // θ⁻ − baseline per seed: −1, −1, −0.5 points; mean −0.833, sd 0.2887, t(2) = 4.3027.
  const double half = 4.302652729911275 * std::sqrt(1.0 / 12) / std::sqrt(3.0);
  const QString expected = QStringLiteral("GE-θ⁻ − baseline: −0.83 % (95 % CI −%1 to −%2)")
                               .arg(0.8333333 + half, 0, 'f', 2)
                               .arg(0.8333333 - half, 0, 'f', 2);
  EXPECT_EQ(table->item(1, 3)->text(), QStringLiteral("\u22120.83 (\u2212%1 to \u2212%2)")
                                           .arg(0.8333333 + half, 0, 'f', 2)
                                           .arg(0.8333333 - half, 0, 'f', 2));
  EXPECT_TRUE(compare->differenceWords()->text().startsWith(expected))
      << compare->differenceWords()->text().toStdString() << " vs " << expected.toStdString();
  // The curves: both groups' means.
  EXPECT_EQ(compare->curves()->series().size(), 4u);
  EXPECT_NEAR(compare->curves()->series()[3].y[1], (9 + 11 + 10.5) / 3, 1e-9);
  // The pickers name a group by its variant, its size and its study ("mean of 1 run" read oddly).
  const auto pickerText = [&](const QString& key) {
    for (auto* box : compare->findChildren<QComboBox*>())
      if (const int i = box->findData(key); i >= 0) return box->itemText(i);
    return QString();
  };
  EXPECT_EQ(pickerText(group(QStringLiteral("baseline"))), QStringLiteral("baseline: mean of 3 runs · my-study"));
  write_run(study, QStringLiteral("theta-plus"), 1, {0.28, 0.08});
  ASSERT_TRUE(wait_until([&] { return !pickerText(group(QStringLiteral("theta-plus"))).isEmpty(); }, 10000));
  EXPECT_EQ(pickerText(group(QStringLiteral("theta-plus"))), QStringLiteral("GE-θ⁺: 1 run · my-study"));
}

}  // namespace
}  // namespace gex::ui
