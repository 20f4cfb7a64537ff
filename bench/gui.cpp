// The application's figures, each beside its peer in one run (issue: the application):
//   training in the GUI vs `gex train` with the same settings (images/s, steady state),
//   event-loop latency while the GUI trains (a 10 ms timer probe, p50/p99/max),
//   replotting a curve of 1 M points and appending to it live,
//   start (main) to the first painted main window.
//
//   QT_QPA_PLATFORM=offscreen build/bin/bench_gui [--steps 120] [--threads 2] [--plots-only]
#include <QApplication>
#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "curve_plot.h"
#include "main_window.h"
#include "qcp.h"
#include "train/run_dir.h"
#include "train_view.h"

namespace {

using Clock = std::chrono::steady_clock;
const auto g_start = Clock::now();

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

void wait_until(const std::function<bool()>& done) {
  QTimer tick;
  tick.start(20);
  while (!done()) QApplication::processEvents(QEventLoop::WaitForMoreEvents);
}

// Steady-state images/s from a run's metrics.csv: the first logged interval is warm-up.
double steady_images_per_second(const QString& run, int batch) {
  const auto rows = gex::read_metrics((run + QStringLiteral("/metrics.csv")).toStdString());
  double images = 0, seconds = 0;
  int64_t previous = -1;
  for (const auto& r : rows) {
    if (r.split != "train") continue;
    if (previous >= 0) {
      const double n = double(r.step - previous) * batch;
      images += n;
      seconds += n / r.images_per_second;
    }
    previous = r.step;
  }
  return seconds > 0 ? images / seconds : 0;
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(q * double(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("ge-explorer-bench"));
  QStandardPaths::setTestModeEnabled(true);
  int steps = 120, threads = 2;
  const bool plotsOnly = QApplication::arguments().contains(QStringLiteral("--plots-only"));
  const QStringList args = QApplication::arguments();
  for (int i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == QLatin1String("--steps")) steps = args[i + 1].toInt();
    if (args[i] == QLatin1String("--threads")) threads = args[i + 1].toInt();
  }
  QTemporaryDir runs;

  // Start to first paint (libraries are loaded before main; `time ge-explorer --version` adds them).
  gex::ui::MainWindow window(runs.path());
  struct FirstPaint : QObject {
    double ms = -1;
    bool eventFilter(QObject*, QEvent* e) override {
      if (e->type() == QEvent::Paint && ms < 0) ms = ms_since(g_start);
      return false;
    }
  } firstPaint;
  window.installEventFilter(&firstPaint);
  window.show();
  wait_until([&] { return firstPaint.ms >= 0; });
  window.removeEventFilter(&firstPaint);

  // Training: gex train in a process, then the same run from the Train view.
  std::vector<double> lateness;
  double cli = 0, gui = 0;
  if (!plotsOnly) {
  gex::TrainConfig config = window.trainView()->config();
  config.data = "fashion-mnist";
  config.model.backbone = "resnet20";
  config.model.attention = gex::AttentionKind::kGE;
  config.model.variant = gex::GEVariant::kThetaMinus;
  config.model.extent = gex::kGlobalExtent;
  config.steps = steps + 20;
  config.epochs = 0;
  config.threads = threads;
  config.batch = 128;
  const QString cliRun = runs.filePath(QStringLiteral("cli")), guiRun = runs.filePath(QStringLiteral("gui"));
  QProcess gex;
  gex.start(QStringLiteral(GEX_BINARY),
            {QStringLiteral("train"), QStringLiteral("--data"), QStringLiteral("fashion-mnist"), QStringLiteral("--model"),
             QStringLiteral("resnet20"), QStringLiteral("--attention"), QStringLiteral("ge"), QStringLiteral("--steps"),
             QString::number(config.steps), QStringLiteral("--batch"), QStringLiteral("128"), QStringLiteral("--threads"),
             QString::number(threads), QStringLiteral("--out"), cliRun});
  gex.waitForFinished(-1);
  window.showView(QStringLiteral("train"));
  window.trainView()->setConfig(config);
  // The probe: a 10 ms timer whose lateness is the event loop's latency.
  QTimer probe;
  auto last = Clock::now();
  QObject::connect(&probe, &QTimer::timeout, [&] {
    const auto now = Clock::now();
    lateness.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(now - last).count() - 10.0));
    last = now;
  });
  probe.setTimerType(Qt::PreciseTimer);
  window.trainView()->start(guiRun);
  last = Clock::now();
  probe.start(10);
  wait_until([&] { return !window.trainView()->isTraining(); });
  probe.stop();
  cli = steady_images_per_second(cliRun, 128);
  gui = steady_images_per_second(guiRun, 128);
  }

  // A curve of 1 M points: replot time, and appends of 1000 points as a live run would.
  QCustomPlot plot;
  plot.resize(1200, 700);
  plot.show();
  gex::ui::CurvePlot curve(&plot, QStringLiteral("step"), QStringLiteral("loss"));
  auto series = gex::ui::make_series(QStringLiteral("bench"), QStringLiteral("loss"), Qt::blue);
  for (int i = 0; i < 1000000; ++i) series.x.push_back(i), series.y.push_back(1.0 / (1 + 1e-4 * i) + 0.05 * std::sin(i));
  curve.setSeries({series});
  curve.setSmoothing(0.6);
  plot.rescaleAxes();
  std::vector<double> replots, appends;
  for (int i = 0; i < 10; ++i) {
    const auto t = Clock::now();
    plot.replot(QCustomPlot::rpImmediateRefresh);
    replots.push_back(ms_since(t));
  }
  for (int i = 0; i < 50; ++i) {
    std::vector<double> x(1000), y(1000);
    for (int k = 0; k < 1000; ++k) x[k] = 1000000 + i * 1000 + k, y[k] = 0.5;
    const auto t = Clock::now();
    curve.append(0, x, y);
    appends.push_back(ms_since(t));
  }

  std::printf("GE Explorer, the application's figures (offscreen, %d thread(s))\n\n", threads);
  std::printf("  %-52s %10s %10s %8s\n", "", "GUI", "peer", "ratio");
  std::printf("  %-52s %10.1f %10.1f %7.3f×   (goal ≥ 0.95×)\n", "training images/s, ResNet-20 GE-θ⁻ vs gex train", gui, cli,
              gui / cli);
  std::printf("  %-52s %10.1f %10s %8s   (goal p99 ≤ 50 ms; p50 %.1f, max %.1f, %zu ticks)\n",
              "event-loop latency while training, p99 ms", percentile(lateness, 0.99), "", "", percentile(lateness, 0.5),
              percentile(lateness, 1.0), lateness.size());
  std::printf("  %-52s %10.1f %10s %8s   (goal ≤ 20 ms; median of 10)\n", "replot of a 1 M-point curve (+ smoothed), ms",
              percentile(replots, 0.5), "", "");
  std::printf("  %-52s %10.1f %10s %8s   (max %.1f ms over 50 appends)\n", "append 1000 points to it live, median ms",
              percentile(appends, 0.5), "", "", percentile(appends, 1.0));
  std::printf("  %-52s %10.0f %10s %8s   (goal ≤ 1500 ms)\n", "main() to first painted window, ms", firstPaint.ms, "", "");
  return 0;
}
