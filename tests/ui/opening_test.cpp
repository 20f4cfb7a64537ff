// What the window opens, as a user gives it: files and folders dropped on it or opened (runs,
// studies, checkpoints, images, another program's weights), and a failed open's message.
#include <gtest/gtest.h>

#include <QDir>
#include <QDropEvent>
#include <QFile>
#include <QFileInfo>
#include <QMimeData>
#include <QTemporaryDir>
#include <QUrl>

#include "gates_view.h"
#include "import_dialog.h"
#include "run_browser.h"
#include "io/safetensors.h"
#include "train/trainer.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::sample;
using test::settle;
using test::shipped;
using test::synthetic_config;
using test::wait_until;

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
  // A folder that is not a run's: its images, in name order (its other files left out); a folder
  // of neither is said to be so.
  QTemporaryDir photos;
  for (const char* name : {"b.png", "a.png"}) QFile::copy(image, photos.filePath(QLatin1String(name)));
  test::write_text(photos.filePath(QStringLiteral("notes.txt")), "not an image");
  ASSERT_TRUE(window->openPaths({photos.path()}));
  const QStringList shown = window->gatesView()->images();
  ASSERT_EQ(shown.size(), count + 2);
  EXPECT_EQ(QFileInfo(shown[count]).fileName(), QStringLiteral("a.png"));
  EXPECT_EQ(QFileInfo(shown[count + 1]).fileName(), QStringLiteral("b.png"));
  QTemporaryDir neither;
  EXPECT_FALSE(window->openPaths({neither.path()}));
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("neither a run directory (no run.json), a study's (no study.json) nor a folder of images")))
      << window->messageText().toStdString();
}

// A study's folder (or its study.json) from elsewhere — copied from a cluster, a colleague's — opens
// as the runs folder's studies do: one group per variant, each checked.
TEST_F(App, DroppingAStudysFolderOpensItsGroups) {
  QTemporaryDir elsewhere;
  const QString study = elsewhere.filePath(QStringLiteral("copied-study"));
  for (const char* variant : {"baseline", "theta-minus"}) {
    const QString run = study + QLatin1Char('/') + QLatin1String(variant) + QStringLiteral("/seed-1");
    QDir().mkpath(run);
    for (const char* file : {"run.json", "metrics.csv"})
      QFile::copy(shipped(QLatin1String(variant)) + QLatin1Char('/') + QLatin1String(file), run + QLatin1Char('/') + QLatin1String(file));
  }
  QFile::copy(shipped(QStringLiteral("baseline")) + QStringLiteral("/../../study.json"), study + QStringLiteral("/study.json"));
  ASSERT_TRUE(QFileInfo::exists(study + QStringLiteral("/study.json")));
  for (const QString& given : {study, study + QStringLiteral("/study.json")}) {
    ASSERT_TRUE(window->openPaths({given})) << window->messageText().toStdString();
    const QString canonical = QFileInfo(study).canonicalFilePath();
    const QStringList checked = window->browser()->checkedGroups();
    EXPECT_TRUE(checked.contains(canonical + QStringLiteral("/baseline"))) << checked.join(QLatin1Char(' ')).toStdString();
    EXPECT_TRUE(checked.contains(canonical + QStringLiteral("/theta-minus"))) << checked.join(QLatin1Char(' ')).toStdString();
  }
}

// A failed open's message goes with the next open (it is about a file no longer in question); the
// failures of one drop stay together, and other messages stay until closed.
TEST_F(App, AFailedOpensMessageGoesWithTheNextOpen) {
  const QString missing = runs.filePath(QStringLiteral("no-such-run"));
  const QString said = missing + QStringLiteral(": no such file or directory");
  EXPECT_FALSE(window->openPaths({missing}));
  EXPECT_EQ(window->messageText(), said);
  ASSERT_TRUE(window->openPath(shipped(QStringLiteral("baseline")))) << window->messageText().toStdString();
  EXPECT_EQ(window->messageText(), QString());
  EXPECT_FALSE(window->openPaths({missing, shipped(QStringLiteral("theta-plus"))}));  // one drop: its failure shows
  EXPECT_EQ(window->messageText(), said);
  window->showMessage(QStringLiteral("a training failed"));
  ASSERT_TRUE(window->openPaths({shipped(QStringLiteral("baseline"))}));
  EXPECT_EQ(window->messageText(), QStringLiteral("a training failed"));
}

TEST_F(App, DroppingWeightsOfAnotherProgramOpensTheImportDialogOnThem) {
  // torchvision's torch.save file, and a safetensors file as timm and Hugging Face write them
  // ({"format": "pt"}): dropped or opened, each is offered to File → Import weights…, never taken
  // for an image or a checkpoint.
  const QString pth = QStringLiteral(GEX_TEST_DATA "/import/resnet18-torchvision.pth");
  const QString timm = runs.filePath(QStringLiteral("resnet50_timm.safetensors"));
  write_safetensors(timm.toStdString(), {{"conv1.weight", torch::zeros({64, 3, 7, 7})}}, {{"format", "pt"}});
  const auto images = window->gatesView()->images().size();
  const std::pair<QString, std::string> cases[] = {{pth, "resnet18"}, {timm, "resnet50"}};
  for (const auto& [file, backbone] : cases) {
    ASSERT_TRUE(window->openPaths({file})) << window->messageText().toStdString();
    auto* dialog = window->findChild<ImportDialog*>();
    ASSERT_NE(dialog, nullptr) << file.toStdString() << " did not open the Import weights dialog";
    EXPECT_TRUE(dialog->isVisible());
    EXPECT_EQ(dialog->options().from, QFileInfo(file).absoluteFilePath().toStdString());
    EXPECT_EQ(dialog->options().model.backbone, backbone);  // from the file's name
    dialog->reject();
    settle(50);  // (deleted on close)
    EXPECT_EQ(window->findChild<ImportDialog*>(), nullptr);
  }
  EXPECT_EQ(window->gatesView()->images().size(), images);
  // A checkpoint of ours still opens as the Gates view's model, without the dialog.
  const QString ours = shipped(QStringLiteral("theta-plus")) + QStringLiteral("/checkpoints/best.safetensors");
  ASSERT_TRUE(window->openPaths({ours}));
  EXPECT_EQ(window->findChild<ImportDialog*>(), nullptr);
}

}  // namespace
}  // namespace gex::ui
