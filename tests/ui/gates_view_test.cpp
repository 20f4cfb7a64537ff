// The Gates view offscreen, against the engine: the gates of a GE model pixel by pixel, through
// training (the filmstrip and its animation), imported weights, and A − B on a diverging scale.
#include <gtest/gtest.h>

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHelpEvent>
#include <QImage>
#include <QLabel>
#include <QScrollArea>
#include <QScrollBar>
#include <QToolTip>

#include <cmath>
#include <cstring>

#include "analysis/gate_maps.h"
#include "eliding_combo_box.h"
#include "errors.h"
#include "io/npy.h"
#include "gate_filmstrip.h"
#include "gates_view.h"
#include "import_dialog.h"
#include "job_bar.h"
#include "models/registry.h"
#include "plot_style.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "train/checkpoint.h"
#include "ui_test_support.h"

namespace gex::ui {
namespace {

using test::App;
using test::sample;
using test::settle;
using test::wait_until;

// A GE model with extent `e` at 28×28 (random weights), so the gate has structure to check cell by cell.
QString local_checkpoint(const QString& dir, int e, uint64_t seed) {
  ModelSpec spec;
  spec.attention = AttentionKind::kGE;
  spec.extent = e;
  spec.in_channels = 1;
  spec.input_size = 28;
  torch::manual_seed(seed);
  auto net = build_network(spec);
  CheckpointInfo info;
  info.model = spec;
  info.preprocess = Preprocess::identity(1, 28, 10);
  info.preprocess.mean = {72.9};
  info.preprocess.std = {90.0};
  const QString path = dir + QStringLiteral("/ge-%1-%2.safetensors").arg(e == kGlobalExtent ? QStringLiteral("global") : QStringLiteral("e%1").arg(e)).arg(seed);
  save_checkpoint(path.toStdString(), *net, info);
  return path;
}

TEST_F(App, GatesViewShowsTheEnginesGatesPixelByPixel) {
  const QString ckpt = local_checkpoint(runs.path(), 2, 3);
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
  ASSERT_GE(shown.width(), 128);  // the panels' least side
  for (int y = 0; y < shown.height(); y += 3)
    for (int x = 0; x < shown.width(); x += 3) {
      const double v = mean[y * h / shown.height()][x * w / shown.width()].item<double>();
      const int gray = pixels[y * 28 / shown.height()][x * 28 / shown.width()].item<int>();
      const QColor colour = colormap_color(QStringLiteral("viridis"), v);
      const int expected = int(std::lround((1 - opacity) * gray + opacity * colour.red()));
      ASSERT_NEAR(qRed(shown.pixel(x, y)), expected, 1) << "pixel " << x << "," << y;
      ++checked;
    }
  EXPECT_GT(checked, 900);
  // layer 4 = layer2.1 at 14×14 with e = 2: a 7×7 gate grid, said in the caption.
  EXPECT_TRUE(gates->caption(0).contains(QStringLiteral("gate 7×7 cells on a 14×14 map"))) << gates->caption(0).toStdString();
  // A global gate is one value per channel: no cells, and no map size to claim (it read "1×1 map").
  const QString global = local_checkpoint(runs.path(), kGlobalExtent, 4);
  gates->setModel(global, 0);
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(0) && gates->result(0)->model == global; }));
  EXPECT_TRUE(gates->caption(0).contains(QStringLiteral("global gate: one value per channel"))) << gates->caption(0).toStdString();
  EXPECT_FALSE(gates->caption(0).contains(QStringLiteral("1×1"))) << gates->caption(0).toStdString();
  EXPECT_EQ(gates->colorBar(0)->lo(), 0.0);
  EXPECT_EQ(gates->colorBar(0)->hi(), 1.0);

  // An image that cannot be read: in place of the input, why (not "choose a model"), naming it.
  const QString broken = runs.filePath(QStringLiteral("broken.png"));
  test::write_text(broken, "not a png");
  gates->addImages({broken});
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && !gates->result(0); }));
  EXPECT_TRUE(gates->hint().startsWith(QStringLiteral("No gates: ") + broken)) << gates->hint().toStdString();
}

// The run picked in the run browser is the one the Gates view shows as model A; in another view
// picking a run leaves the Gates view's model alone.
TEST_F(App, GatesViewShowsTheRunPickedInTheBrowser) {
  std::vector<const RunRecord*> withCheckpoints;
  for (const auto& r : window->catalog()->runs())
    if (r.hasCheckpoint()) withCheckpoints.push_back(&r);
  ASSERT_GE(withCheckpoints.size(), 3u) << "the shipped runs have checkpoints";
  auto* gates = window->gatesView();
  ASSERT_TRUE(window->showView(QStringLiteral("curves")));
  const QString before = gates->modelAt(0);
  const RunRecord* other = withCheckpoints[0]->bestCheckpoint() == before ? withCheckpoints[1] : withCheckpoints[0];
  window->browser()->setCurrentRun(other->path);
  EXPECT_EQ(gates->modelAt(0).toStdString(), before.toStdString());
  ASSERT_TRUE(window->showView(QStringLiteral("gates")));
  const RunRecord* picked = nullptr;  // neither the browser's current run nor the model shown
  for (const RunRecord* r : withCheckpoints)
    if (r != other && r->bestCheckpoint() != before) picked = r;
  window->browser()->setCurrentRun(picked->path);
  EXPECT_EQ(gates->modelAt(0).toStdString(), picked->bestCheckpoint().toStdString());
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
}

// At laptop size a run's name is wider than the model box: it is elided in the middle, so that the
// variant and seed at its end stay in view (cut at the right, every seed of a study looked alike).
TEST_F(App, GatesViewKeepsAModelsVariantAndSeedInViewWhenItsNameIsLong) {
  ASSERT_TRUE(window->showView(QStringLiteral("gates")));
  auto* box = window->gatesView()->findChild<ElidingComboBox*>(QStringLiteral("modelA"));
  ASSERT_TRUE(box);
  const QString name = box->currentText();
  ASSERT_TRUE(name.contains(QStringLiteral(" · seed-"))) << name.toStdString();
  ASSERT_GT(box->fontMetrics().horizontalAdvance(name), box->width()) << "the name fits: nothing to check";
  const QString shown = box->shownText();
  EXPECT_LT(box->fontMetrics().horizontalAdvance(shown), box->width()) << shown.toStdString();
  EXPECT_TRUE(shown.contains(QChar(0x2026))) << shown.toStdString();  // …
  EXPECT_TRUE(shown.startsWith(name.left(6))) << shown.toStdString();
  EXPECT_TRUE(shown.endsWith(name.right(8))) << shown.toStdString() << " does not end as " << name.toStdString();
  // Hovering shows the whole name, then what the box is for.
  QHelpEvent hover(QEvent::ToolTip, QPoint(5, 5), box->mapToGlobal(QPoint(5, 5)));
  QApplication::sendEvent(box, &hover);
  EXPECT_EQ(QToolTip::text().toStdString(), (name + QLatin1Char('\n') + box->toolTip()).toStdString());
  QToolTip::hideText();
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
}

// The panels take the room there is: at 1024×640 the input and panel A with its colour bar lie
// wholly in view (at the former fixed 240 px the bar was past the edge) and nothing scrolls
// sideways, the filmstrip's controls included; on a large monitor they grow, drawn at their size.
TEST_F(App, GatesViewsPanelsTakeTheRoomThereIs) {
  ASSERT_TRUE(window->showView(QStringLiteral("gates")));
  auto* gates = window->gatesView();
  gates->addImages({sample(QStringLiteral("fashion-7-sneaker.png"))});
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(0); }));
  ASSERT_FALSE(gates->filmstrip()->frames().empty()) << "the shipped model A has probes: its filmstrip shows";
  auto* area = gates->findChild<QScrollArea*>(QStringLiteral("panels"));
  auto* panel = gates->findChild<QLabel*>(QStringLiteral("panel0"));
  ASSERT_TRUE(area && panel);
  const qreal dpr = gates->devicePixelRatioF();
  const auto side_in = [&](QSize size) {
    window->resize(size);
    settle(200);
    EXPECT_EQ(panel->height(), panel->width());
    EXPECT_EQ(gates->overlay(0).width(), qRound(panel->width() * dpr));
    EXPECT_TRUE(gates->caption(0).contains(QStringLiteral("shown at %1×%1 px").arg(panel->width())))
        << gates->caption(0).toStdString();
    return panel->width();
  };
  const int laptop = side_in({1024, 640});
  for (const QWidget* w : {static_cast<const QWidget*>(panel), static_cast<const QWidget*>(gates->colorBar(0))}) {
    const QRect at(w->mapTo(area->viewport(), QPoint(0, 0)), w->size());
    EXPECT_TRUE(area->viewport()->rect().contains(at)) << w->objectName().toStdString();
  }
  EXPECT_EQ(area->horizontalScrollBar()->maximum(), 0);
  const int monitor = side_in({1900, 1060});
  EXPECT_GT(monitor, laptop + 50);
  // Four panels (B with gates, and A − B) at 1366×768: smaller, the last bar still in view.
  QString b;
  for (const auto& r : window->catalog()->runs())
    if (r.hasCheckpoint() && r.config.model.attention != AttentionKind::kNone && r.bestCheckpoint() != gates->modelAt(0))
      b = r.bestCheckpoint();
  ASSERT_FALSE(b.isEmpty());
  gates->setModel(b, 1);
  gates->setDifference(true);
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(1) && !gates->overlay(2).isNull(); }));
  const int four = side_in({1366, 740});
  EXPECT_LT(four, laptop + 50);
  const QRect last(gates->colorBar(2)->mapTo(area->viewport(), QPoint(0, 0)), gates->colorBar(2)->size());
  EXPECT_TRUE(area->viewport()->rect().contains(last));
  // A baseline as B shows no gates, so no bar and no A − B: three panels, larger again.
  QString baseline;
  for (const auto& r : window->catalog()->runs())
    if (r.hasCheckpoint() && r.config.model.attention == AttentionKind::kNone) baseline = r.bestCheckpoint();
  ASSERT_FALSE(baseline.isEmpty());
  gates->setModel(baseline, 1);
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(1) && gates->result(1)->model == baseline; }));
  EXPECT_GT(side_in({1366, 740}), four + 40);
  ASSERT_TRUE(wait_until([&] { return !window->isBusy(); }));
}

// The filmstrip of a run's probes, from hand-made probe files: probe k's gate is k/4 everywhere
// in channel 0 and 1 − k/4 in channel 1, so the channel mean is 1/2 and channel 1 falls.
TEST_F(App, GatesViewShowsTheGateThroughTrainingAndExportsTheAnimation) {
  const QString run = copyOfShipped(QStringLiteral("theta-e4"), QStringLiteral("probed"));
  const auto pre = read_checkpoint_info((run + QStringLiteral("/checkpoints/best.safetensors")).toStdString()).preprocess;
  QByteArray index = "step,epoch,wall_seconds,top1_error,dir\n";
  for (int k = 1; k <= 3; ++k) {
    const QString dir = run + QStringLiteral("/probes/step-%1").arg(10 * k, 8, 10, QLatin1Char('0'));
    QDir().mkpath(dir + QStringLiteral("/gates/test-00003-dress"));
    QDir().mkpath(dir + QStringLiteral("/inputs"));
    // A mid-grey input: pixel 128 normalised as the model's preprocessing does.
    write_npy((dir + QStringLiteral("/inputs/test-00003-dress.npy")).toStdString(),
              torch::full({1, 1, 28, 28}, (128 / 255.0 - pre.mean[0]) / pre.std[0]));
    auto gate = torch::empty({1, 2, 7, 7});
    gate[0][0].fill_(k / 4.0);
    gate[0][1].fill_(1 - k / 4.0);
    write_npy((dir + QStringLiteral("/gates/test-00003-dress/layer3.0.attn.npy")).toStdString(), gate);
    test::write_text(dir + QStringLiteral("/predictions.json"),
                     R"({"images":[{"file":"test:3","stem":"test-00003-dress","label":"Dress","top5":[]}]})");
    index += QStringLiteral("%1,%2,1,0.5,step-%3\n").arg(10 * k).arg(k / 100.0).arg(10 * k, 8, 10, QLatin1Char('0')).toUtf8();
  }
  test::write_text(run + QStringLiteral("/probes/index.csv"), index);
  window->catalog()->rescan();
  auto* view = window->gatesView();
  ASSERT_TRUE(window->showView(QStringLiteral("gates")));
  view->setModel(QFileInfo(run).canonicalFilePath() + QStringLiteral("/checkpoints/best.safetensors"), 0);
  auto* strip = view->filmstrip();
  ASSERT_EQ(strip->imageBox()->count(), 1);
  EXPECT_EQ(strip->imageBox()->currentText(), QStringLiteral("test-00003-dress (Dress)"));
  ASSERT_EQ(strip->frames().size(), 3u);
  EXPECT_EQ(strip->strip()->count(), 3);
  for (int k = 1; k <= 3; ++k) {
    const auto& f = strip->frames()[k - 1];
    EXPECT_EQ(f.step, 10 * k);
    EXPECT_EQ(f.map.height, 7);
    EXPECT_NEAR(f.map.values[0], 0.5, 1e-6);  // the channel mean
    EXPECT_EQ(f.input.pixelColor(5, 5), QColor(128, 128, 128));
  }
  view->setChannel(1);
  ASSERT_EQ(strip->frames().size(), 3u);
  for (int k = 1; k <= 3; ++k) EXPECT_NEAR(strip->frames()[k - 1].map.values[48], 1 - k / 4.0, 1e-6);

  QTemporaryDir out;
  const QStringList files = strip->exportAnimation(out.path());
  ASSERT_EQ(files.size(), 4);  // three frames and the video
  for (int k = 0; k < 3; ++k) {
    QImage frame(files[k]);
    ASSERT_FALSE(frame.isNull()) << files[k].toStdString();
    EXPECT_EQ(frame.width(), 240);
  }
  EXPECT_TRUE(files[3].endsWith(QStringLiteral(".avi")));
  const QByteArray avi = test::read_text(files[3]);
  EXPECT_TRUE(avi.startsWith("RIFF") && avi.mid(8, 4) == "AVI ") << files[3].toStdString();
  // The main AVI header (avih) counts its frames at byte 16 of its data: one per probe.
  const int avih = avi.indexOf("avih");
  ASSERT_GT(avih, 0);
  uint32_t frames = 0;
  std::memcpy(&frames, avi.constData() + avih + 8 + 16, 4);
  EXPECT_EQ(frames, 3u);
  EXPECT_THROW(strip->exportAnimation(out.path()), Error);  // never over the files written
  // Nor over a frame left without its video: refused before anything is written.
  QFile::remove(files[3]);
  const QByteArray first = test::read_text(files[0]);
  QFile(files[1]).resize(10);
  EXPECT_THROW(strip->exportAnimation(out.path()), Error);
  EXPECT_EQ(test::read_text(files[0]), first);
  EXPECT_EQ(QFileInfo(files[1]).size(), 10);
  EXPECT_FALSE(QFileInfo::exists(files[3]));
}

TEST_F(App, GatesViewImportsWeightsAsTheImportDialogAsksAndShowsThem) {
  const QString weights = QStringLiteral(GEX_TEST_DATA "/import/resnet18-torchvision.pth");
  ImportDialog dialog(runs.path());
  EXPECT_FALSE(dialog.problem().isEmpty());  // no file yet
  dialog.setSource(weights);
  EXPECT_EQ(dialog.options().model.backbone, "resnet18");  // from the file's name
  const QString out = runs.filePath(QStringLiteral("imported/resnet18-torchvision-resnet18.safetensors"));
  EXPECT_EQ(dialog.output(), out);
  EXPECT_TRUE(dialog.problem().isEmpty()) << dialog.problem().toStdString();
  ImportOptions options = dialog.options();
  options.input_size = 64;
  auto* gates = window->gatesView();
  gates->importWeights(options, dialog.output());
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(QStringLiteral("Imported")); }, 60000))
      << window->messageText().toStdString();
  EXPECT_TRUE(window->messageText().contains(QStringLiteral("122 tensors loaded"))) << window->messageText().toStdString();
  EXPECT_EQ(gates->modelAt(0), out);
  // A baseline has no gates: said once it is known, never left at "Computing gates…".
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy(); }, 60000));
  settle(300);
  EXPECT_FALSE(gates->hint().contains(QStringLiteral("Computing"))) << gates->hint().toStdString();
  EXPECT_EQ(load_checkpoint(out.toStdString()).info.preprocess.class_names.size(), 1000u);
  // Now the file exists: the dialog refuses to overwrite it; a damaged file is named in a message.
  EXPECT_TRUE(dialog.problem().contains(QStringLiteral("exists"))) << dialog.problem().toStdString();
  options.from = (runs.filePath(QStringLiteral("broken.pth"))).toStdString();
  test::write_text(runs.filePath(QStringLiteral("broken.pth")), "PK\x03\x04 not a zip");
  gates->importWeights(options, runs.filePath(QStringLiteral("other.safetensors")));
  ASSERT_TRUE(wait_until([&] { return window->messageText().contains(QStringLiteral("broken.pth")); }, 60000))
      << window->messageText().toStdString();
  EXPECT_FALSE(QFileInfo::exists(runs.filePath(QStringLiteral("other.safetensors"))));
  EXPECT_FALSE(gates->jobBar()->status().contains(QStringLiteral("importing"))) << "a failed import still said it was importing";
}

TEST_F(App, GatesViewDrawsAMinusBOnASymmetricDivergingScaleAndPerMapBars) {
  const QString a = local_checkpoint(runs.path(), 4, 3), b = local_checkpoint(runs.path(), 4, 4);
  const QString image = sample(QStringLiteral("fashion-0-t-shirt.png"));
  auto* gates = window->gatesView();
  gates->setModel(a, 0);
  gates->setModel(b, 1);
  gates->addImages({image});
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(1) && gates->result(1)->model == b; }));
  gates->setLayer(8);
  gates->setChannel(5);
  gates->setDifference(true);
  // By hand: channel 5 of layer3.2's gate of each model, and their difference.
  torch::Tensor maps[2];
  for (int side = 0; side < 2; ++side) {
    auto c = load_checkpoint((side ? b : a).toStdString());
    maps[side] = inspect_gates(*c.net, c.info.preprocess, image.toStdString()).gates[8].second[0][5];
  }
  const auto diff = maps[0] - maps[1];
  const double m = diff.abs().max().item<double>();
  const GateMap shown = gates->shownMap(2);
  ASSERT_EQ(shown.height, int(diff.size(0)));
  for (int y = 0; y < shown.height; ++y)
    for (int x = 0; x < shown.width; ++x) ASSERT_NEAR(shown.at(y, x), diff[y][x].item<float>(), 1e-6);
  EXPECT_NEAR(gates->colorBar(2)->hi(), m, 1e-6);
  EXPECT_NEAR(gates->colorBar(2)->lo(), -m, 1e-6);
  EXPECT_EQ(gates->colorBar(2)->colormap(), kDivergingMap);
  // The cell with the largest difference is drawn in the diverging map's end colour.
  const auto at = diff.abs().argmax().item<int64_t>();
  const int cy = int(at / diff.size(1)), cx = int(at % diff.size(1));
  const QImage overlay = gates->overlay(2);
  const int px = (2 * cx + 1) * overlay.width() / (2 * shown.width), py = (2 * cy + 1) * overlay.height() / (2 * shown.height);
  const QColor pixel = overlay.pixelColor(px, py);
  const QColor end = colormap_color(kDivergingMap, diff[cy][cx].item<double>() > 0 ? 1.0 : 0.0);
  const double opacity = 0.6;
  const QColor base = gates->result(0)->input.pixelColor(px * 28 / overlay.width(), py * 28 / overlay.height());
  EXPECT_NEAR(pixel.red(), (1 - opacity) * base.red() + opacity * end.red(), 2);
  EXPECT_NEAR(pixel.blue(), (1 - opacity) * base.blue() + opacity * end.blue(), 2);
  EXPECT_TRUE(gates->caption(0).contains(QStringLiteral("gate 2×2 cells on a 7×7 map"))) << gates->caption(0).toStdString();
  // Per-map scale: each panel's bar spans its own map.
  gates->setPerMapScale(true);
  for (int side = 0; side < 2; ++side) {
    EXPECT_NEAR(gates->colorBar(side)->lo(), maps[side].min().item<double>(), 1e-6) << side;
    EXPECT_NEAR(gates->colorBar(side)->hi(), maps[side].max().item<double>(), 1e-6) << side;
  }
}

// A baseline as model B has no gates: its panel says so and shows its predictions beside A's (it
// showed nothing at all, without a word).
TEST_F(App, GatesViewShowsABaselineBsPredictionsAndSaysItHasNoGates) {
  const QString a = local_checkpoint(runs.path(), 4, 3);
  const QString b = test::shipped(QStringLiteral("baseline")) + QStringLiteral("/checkpoints/best.safetensors");
  auto* gates = window->gatesView();
  gates->setModel(a, 0);
  gates->setModel(b, 1);
  gates->addImages({sample(QStringLiteral("fashion-1-trouser.png"))});
  ASSERT_TRUE(window->showView(QStringLiteral("gates")));
  ASSERT_TRUE(wait_until([&] { return !gates->isBusy() && gates->result(1) && gates->result(1)->model == b; }));
  EXPECT_TRUE(gates->result(1)->layers.isEmpty());
  EXPECT_TRUE(gates->caption(1).contains(QStringLiteral("no attention modules: no gates"))) << gates->caption(1).toStdString();
  ASSERT_FALSE(gates->result(1)->top5.isEmpty());
  EXPECT_TRUE(gates->top5(1).contains(gates->result(1)->top5.front())) << gates->top5(1).toStdString();
  EXPECT_TRUE(gates->overlay(1).isNull());  // nothing to overlay, nor an A − B
  gates->setDifference(true);
  EXPECT_TRUE(gates->overlay(2).isNull());
}

}  // namespace
}  // namespace gex::ui
