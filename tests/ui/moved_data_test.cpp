// Runs whose data moved or changed since they trained, in the analysis views: Locate… records
// where the data is now, and a folder renamed since is measured as `gex selectivity` measures it.
#include <gtest/gtest.h>

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QImage>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTimer>

#include <utility>

#include "analysis/selectivity.h"
#include "data/dataset.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "train_process.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::wait_until;

// Runs whose data set has moved since (copied from another machine): the view says which run cannot
// be measured and offers Locate…, which asks where the data is now and records it for every run that
// read it there; the analysis then runs on it.
TEST_F(App, SelectivityOffersToLocateTheDataOfRunsWhoseDataMoved) {
  const QString gone = runs.filePath(QStringLiteral("gone")), moved = runs.filePath(QStringLiteral("moved"));
  QStringList copies;
  for (const char* name : {"moved-data", "moved-data-2"}) {
    const QString run = copyOfShipped(QStringLiteral("baseline"), QLatin1String(name));
    QFile file(run + QStringLiteral("/run.json"));
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    QJsonObject json = QJsonDocument::fromJson(file.readAll()).object();
    file.close();
    QJsonObject config = json[QStringLiteral("config")].toObject();
    config[QStringLiteral("data")] = QStringLiteral("fashion-mnist:") + gone;
    json[QStringLiteral("config")] = config;
    test::write_text(run + QStringLiteral("/run.json"), QJsonDocument(json).toJson());
    copies << run;
  }
  ASSERT_TRUE(QDir().mkpath(moved));
  for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                           "t10k-labels-idx1-ubyte.gz"})
    ASSERT_TRUE(QFile::link(QString::fromLatin1(kFashionMnistDir) + QLatin1Char('/') + QLatin1String(name),
                            moved + QLatin1Char('/') + QLatin1String(name)));
  window->catalog()->rescan();
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* view = window->selectivityView();
  view->setRuns({copies[0]});  // first: the shipped runs checked at start are not measured at 200 images
  view->setLimit(200);
  const QString expected = QStringLiteral("moved-data cannot be measured: its data is not at ") + gone;
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(expected); }, 60000))
      << window->messageText().toStdString();
  QString asked;
  auto* timer = new QTimer(window.get());
  QObject::connect(timer, &QTimer::timeout, timer, [&, timer] {
    auto* dialog = qobject_cast<QFileDialog*>(QApplication::activeModalWidget());
    if (!dialog) return;
    asked = dialog->windowTitle();
    timer->stop();
    dialog->setDirectory(moved);  // opened in it, nothing selected: the folder itself
    static_cast<QDialog*>(dialog)->accept();
  });
  timer->start(50);
  window->messageBar()->triggerAction();  // Locate…
  EXPECT_TRUE(asked.contains(gone)) << asked.toStdString();
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("2 runs read their data from ") + moved))
      << window->messageText().toStdString();
  for (const QString& run : copies) {
    QFile file(run + QStringLiteral("/run.json"));
    ASSERT_TRUE(file.open(QIODevice::ReadOnly));
    EXPECT_EQ(QJsonDocument::fromJson(file.readAll()).object()[QStringLiteral("config")].toObject()[QStringLiteral("data")],
              QStringLiteral("fashion-mnist:") + moved);
  }
  ASSERT_TRUE(wait_until([&] { return !view->isBusy() && view->data().count(copies[0]); }, 120000))
      << window->messageText().toStdString();
}

// A run on a folder without val/ whose class folders were renamed since (a classes.txt naming them
// as before): the view measures its checkpoint on the files its run held out, labelled by class
// name, as `gex selectivity` does (the reference here; it is checked against the run's own
// evaluation in the CLI tests) — it held out and labelled by the folders' new order.
TEST_F(App, SelectivityOfARunOnARenamedFolderIsGexSelectivitys) {
  const QString photos = runs.filePath(QStringLiteral("photos"));
  uint32_t noise = 7;
  for (const char* cls : {"a", "b", "c"}) {
    QDir().mkpath(photos + QLatin1Char('/') + QLatin1String(cls));
    for (int i = 0; i < 10; ++i) {
      QImage image(24, 24, QImage::Format_RGB888);
      for (int y = 0; y < 24; ++y)
        for (int x = 0; x < 24; ++x) {
          noise = noise * 1664525u + 1013904223u;
          const int n = int(noise >> 27);  // 0 … 31
          image.setPixelColor(x, y, QColor(cls[0] == 'a' ? 200 + n : n, cls[0] == 'b' ? 200 + n : n, (x + y + n) % 256));
        }
      ASSERT_TRUE(image.save(QStringLiteral("%1/%2/p%3.png").arg(photos, QLatin1String(cls)).arg(i)));
    }
  }
  const auto gex = [](const QStringList& args) {
    QProcess p;
    p.start(gex_program(), args);
    return p.waitForFinished(120000) && p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
  };
  const QString run = runs.filePath(QStringLiteral("renamed"));
  ASSERT_EQ(gex({QStringLiteral("train"), QStringLiteral("--data"), QStringLiteral("folder:") + photos,
                 QStringLiteral("--input-size"), QStringLiteral("16"), QStringLiteral("--steps"), QStringLiteral("6"),
                 QStringLiteral("--batch"), QStringLiteral("8"), QStringLiteral("--seed"), QStringLiteral("3"),
                 QStringLiteral("--threads"), QStringLiteral("1"), QStringLiteral("--no-probes"), QStringLiteral("--out"), run}),
            0);
  for (const auto& [from, to] : {std::pair{"a", "y"}, {"b", "z"}, {"c", "x"}})
    ASSERT_TRUE(QDir(photos).rename(QLatin1String(from), QLatin1String(to)));
  test::write_text(photos + QStringLiteral("/classes.txt"), "x c\ny a\nz b\n");  // folders x, y, z: c, a, b
  const QString reference = runs.filePath(QStringLiteral("reference.csv"));
  ASSERT_EQ(gex({QStringLiteral("selectivity"), QStringLiteral("--checkpoint"), run + QStringLiteral("/checkpoints/best.safetensors"),
                 QStringLiteral("--data"), QStringLiteral("folder:") + photos, QStringLiteral("--threads"), QStringLiteral("1"),
                 QStringLiteral("--out"), reference}),
            0);
  window->catalog()->rescan();
  const QString path = QFileInfo(run).canonicalFilePath();
  ASSERT_TRUE(window->showView(QStringLiteral("selectivity")));
  auto* view = window->selectivityView();
  view->setLimit(300);
  view->setRuns({path});
  ASSERT_TRUE(wait_until([&] { return !view->isBusy() && view->data().count(path); }, 120000)) << window->messageText().toStdString();
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("renamed trained on other files than folder:") + photos +
                                             QStringLiteral(" holds now (the same number of files under other names or "
                                                            "classes): measured on the files there now")))
      << window->messageText().toStdString();
  const auto expected = read_selectivity_csv(reference.toStdString());
  const auto computed = read_selectivity_csv(analysis_path(*window->catalog()->find(path), selectivity_file(300)).toStdString());
  ASSERT_EQ(computed.units.size(), expected.units.size());
  for (size_t i = 0; i < expected.units.size(); ++i) {
    EXPECT_EQ(computed.units[i].layer, expected.units[i].layer);
    EXPECT_NEAR(computed.units[i].csi, expected.units[i].csi, 1e-5) << i;
    EXPECT_EQ(computed.units[i].max_class, expected.units[i].max_class) << "the class unit " << i << " prefers";
  }
}

}  // namespace
}  // namespace gex::ui
