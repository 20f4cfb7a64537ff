// The application's figures, each beside its peer in one run:
//   training in the GUI vs `gex train` with the same settings (images/s, steady state), measured
//   interleaved (CLI, GUI, CLI, GUI), best of --repeats on each side, exit statuses checked;
//   event-loop latency while the GUI trains (a 10 ms timer probe, in a run of its own so the
//   probe's wake-ups do not tax the measured runs);
//   the longest event-loop stall while switching through the views and editing the Train form;
//   replotting a curve of 1 M points and appending to it live;
//   start (main) to the first painted main window;
//   scrubbing the probe timeline of a run with 100 probes in Selectivity and Pruning, per step.
//
//   QT_QPA_PLATFORM=offscreen build/bin/bench_gui [--steps 120] [--threads 2] [--repeats 2] [--plots-only]
#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QSlider>
#include <QElapsedTimer>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTimer>

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <optional>
#include <vector>

#include "curve_plot.h"
#include "heap.h"
#include "main_window.h"
#include "probe_timeline.h"
#include "pruning_view.h"
#include "qcp.h"
#include "run_catalog.h"
#include "selectivity_view.h"
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

// Lateness of a periodic timer: how long the event loop was busy past each tick.
class LatencyProbe {
 public:
  explicit LatencyProbe(int periodMs) : m_period(periodMs) {
    m_timer.setTimerType(Qt::PreciseTimer);
    QObject::connect(&m_timer, &QTimer::timeout, [this] {
      const auto now = Clock::now();
      m_lateness.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(now - m_last).count() - m_period));
      m_last = now;
    });
  }
  void start() {
    m_lateness.clear();
    m_last = Clock::now();
    m_timer.start(m_period);
  }
  std::vector<double> stop() {
    m_timer.stop();
    return m_lateness;
  }

 private:
  int m_period;
  QTimer m_timer;
  Clock::time_point m_last;
  std::vector<double> m_lateness;
};

// One `gex train` run; nullopt (and why on stderr) when it did not finish.
std::optional<double> cli_run(const QString& dir, const gex::TrainConfig& c) {
  QProcess gex;
  gex.start(QStringLiteral(GEX_BINARY),
            {QStringLiteral("train"), QStringLiteral("--data"), QString::fromStdString(c.data), QStringLiteral("--model"),
             QStringLiteral("resnet20"), QStringLiteral("--attention"), QStringLiteral("ge"), QStringLiteral("--steps"),
             QString::number(c.steps), QStringLiteral("--batch"), QString::number(c.batch), QStringLiteral("--threads"),
             QString::number(c.threads), QStringLiteral("--eval-limit"), QString::number(c.eval_limit),
             QStringLiteral("--out"), dir});
  if (!gex.waitForFinished(-1) || gex.exitStatus() != QProcess::NormalExit || gex.exitCode() != 0) {
    std::fprintf(stderr, "bench_gui: gex train failed (exit %d): %s\n", gex.exitCode(),
                 gex.readAllStandardError().right(600).constData());
    return std::nullopt;
  }
  return steady_images_per_second(dir, int(c.batch));
}

// CPU seconds per thread name of this process, from /proc (to see what competes with training).
std::map<std::string, double> thread_cpu_seconds() {
  std::map<std::string, double> out;
  DIR* tasks = opendir("/proc/self/task");
  if (!tasks) return out;
  const double tick = double(sysconf(_SC_CLK_TCK));
  while (const dirent* e = readdir(tasks)) {
    if (e->d_name[0] == '.') continue;
    std::FILE* f = std::fopen((std::string("/proc/self/task/") + e->d_name + "/stat").c_str(), "r");
    if (!f) continue;
    char line[1024] = {};
    const size_t n = std::fread(line, 1, sizeof line - 1, f);
    std::fclose(f);
    const std::string stat(line, n);
    const auto open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    unsigned long utime = 0, stime = 0;
    // Fields after the name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime.
    if (std::sscanf(stat.c_str() + close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) == 2)
      out[stat.substr(open + 1, close - open - 1)] += double(utime + stime) / tick;
  }
  closedir(tasks);
  return out;
}

std::optional<double> gui_run(gex::ui::MainWindow& window, const QString& dir, const gex::TrainConfig& c) {
  window.showView(QStringLiteral("train"));
  const auto cpuBefore = thread_cpu_seconds();
  const auto wallStart = Clock::now();
  if (!window.trainView()->startConfig(c, dir)) return std::nullopt;
  wait_until([&] { return !window.trainView()->isTraining(); });
  const double wall = ms_since(wallStart) / 1000;
  for (const auto& [name, seconds] : thread_cpu_seconds()) {
    const auto before = cpuBefore.find(name);
    const double used = seconds - (before == cpuBefore.end() ? 0.0 : before->second);
    if (used > 0.005 * wall) std::fprintf(stderr, "    thread %-16s %5.1f %% of the run's wall time\n", name.c_str(), 100 * used / wall);
  }
  if (gex::RunDirectory::open(dir.toStdString()).status() != gex::RunStatus::kFinished) {
    std::fprintf(stderr, "bench_gui: the GUI run did not finish: %s\n", qPrintable(window.trainView()->progressText()));
    return std::nullopt;
  }
  return steady_images_per_second(dir, int(c.batch));
}

QString figure(const std::optional<double>& v) { return v ? QString::number(*v, 'f', 1) : QStringLiteral("failed"); }

}  // namespace

// A ResNet-20 run with `count` probes: selectivity.csv (16/32/64 units a block) and a pruning curve
// of layer3.2 in each, as the trainer writes them.
QString run_with_probes(const QString& runs, int count) {
  const QString run = runs + QStringLiteral("/probed");
  QDir().mkpath(run + QStringLiteral("/checkpoints"));
  const QString shipped = gex::ui::MainWindow::resourceDirectory() + QStringLiteral("/default-runs/resnet20-fashion-mnist-study/theta-e4/seed-1/");
  for (const char* f : {"run.json", "metrics.csv", "checkpoints/best.safetensors"})
    QFile::copy(shipped + QLatin1String(f), run + QLatin1Char('/') + QLatin1String(f));
  QByteArray index = "step,epoch,wall_seconds,top1_error,dir\n";
  for (int k = 1; k <= count; ++k) {
    const QString name = QStringLiteral("step-%1").arg(100 * k, 8, 10, QLatin1Char('0'));
    QDir().mkpath(run + QStringLiteral("/probes/") + name);
    QByteArray csi = "layer,unit,csi,max_class,mean_activation\n";
    for (int stage = 1; stage <= 3; ++stage)
      for (int block = 0; block < 3; ++block)
        for (int unit = 0; unit < (8 << stage); ++unit)
          csi += QStringLiteral("layer%1.%2,%3,%4,%5,0.5\n")
                     .arg(stage).arg(block).arg(unit)
                     .arg(std::fmod(0.37 * unit + 0.01 * k + 0.1 * stage, 1.0), 0, 'g', 9).arg(unit % 10)
                     .toUtf8();
    QFile f(run + QStringLiteral("/probes/") + name + QStringLiteral("/selectivity.csv"));
    f.open(QIODevice::WriteOnly);
    f.write(csi);
    QByteArray prune = "layer,order,ratio,repeat,top1_error,top5_error\n";
    for (const char* order : {"csi-desc", "random"})
      for (int r = 0; r <= 10; ++r)
        prune += QStringLiteral("layer3.2,%1,%2,0,%3,0.01\n").arg(QLatin1String(order)).arg(r / 10.0).arg(0.1 + 0.08 * r * k / count).toUtf8();
    QFile p(run + QStringLiteral("/probes/") + name + QStringLiteral("/prune-layer3.2.csv"));
    p.open(QIODevice::WriteOnly);
    p.write(prune);
    index += QStringLiteral("%1,%2,%3,0.2,%4\n").arg(100 * k).arg(k / 4.0).arg(10.0 * k).arg(name).toUtf8();
  }
  QFile i(run + QStringLiteral("/probes/index.csv"));
  i.open(QIODevice::WriteOnly);
  i.write(index);
  return run;
}

// Per step of the slider, from the first probe to the last (files read the first time), the
// milliseconds until the view has redrawn.
std::vector<double> scrub(gex::ui::ProbeTimeline* timeline) {
  std::vector<double> ms;
  for (int i = 0; i <= timeline->slider()->maximum(); ++i) {
    const auto t = Clock::now();
    timeline->slider()->setValue(i);
    QApplication::processEvents();  // the queued replots
    ms.push_back(ms_since(t));
  }
  return ms;
}

int main(int argc, char** argv) {
  gex::keep_freed_memory_for_reuse();  // the heap as gex has it
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("ge-explorer-bench"));
  QStandardPaths::setTestModeEnabled(true);
  int steps = 120, threads = 2, repeats = 2;
  const QStringList args = QApplication::arguments();
  const bool plotsOnly = args.contains(QStringLiteral("--plots-only"));
  for (int i = 1; i + 1 < args.size(); ++i) {
    if (args[i] == QLatin1String("--steps")) steps = args[i + 1].toInt();
    if (args[i] == QLatin1String("--threads")) threads = args[i + 1].toInt();
    if (args[i] == QLatin1String("--repeats")) repeats = args[i + 1].toInt();
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
  wait_until([&] { return !window.isBusy(); });

  // A curve of 1 M points: replot time, and appends of 1000 points as a live run would (first,
  // while nothing else runs: the later phases leave analyses running in the background).
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

  // Scrubbing a timeline of 100 probes (before anything trains, so the figure is the views' own).
  const QString probed = run_with_probes(runs.path(), 100);
  window.catalog()->rescan();
  const QString probedPath = QFileInfo(probed).canonicalFilePath();
  window.showView(QStringLiteral("selectivity"));
  window.selectivityView()->setRuns({probedPath});
  wait_until([&] { return !window.isBusy(); });
  window.selectivityView()->timeline()->slider()->setValue(0);
  const auto scrubSelectivity = scrub(window.selectivityView()->timeline());
  window.showView(QStringLiteral("pruning"));
  window.pruningView()->setOrders({QStringLiteral("csi-desc"), QStringLiteral("random")});
  window.pruningView()->setRuns({probedPath});
  window.pruningView()->setBlock(QStringLiteral("layer3.2"));
  wait_until([&] { return !window.isBusy(); });
  window.pruningView()->timeline()->slider()->setValue(0);
  const auto scrubPruning = scrub(window.pruningView()->timeline());
  window.showView(QStringLiteral("train"));

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
  config.eval_limit = 1000;

  std::vector<std::optional<double>> cli, gui;
  std::vector<double> lateness, stalls;
  if (!plotsOnly) {
    for (int r = 0; r < repeats; ++r) {
      cli.push_back(cli_run(runs.filePath(QStringLiteral("cli-%1").arg(r)), config));
      gui.push_back(gui_run(window, runs.filePath(QStringLiteral("gui-%1").arg(r)), config));
      std::fprintf(stderr, "  round %d: gex train %s, GUI %s images/s\n", r + 1, qPrintable(figure(cli.back())),
                   qPrintable(figure(gui.back())));
    }
    // Latency while training, in a run of its own (the probe wakes the GUI thread 100 times a second).
    LatencyProbe probe(10);
    gex::TrainConfig shorter = config;
    shorter.steps = std::max(40, steps / 2);
    probe.start();
    gui_run(window, runs.filePath(QStringLiteral("gui-latency")), shorter);
    lateness = probe.stop();

    // Stalls while the user goes through the views and edits the Train form (analyses start in
    // the background as views show; networks are built for the parameter count).
    LatencyProbe stallProbe(5);
    std::vector<std::pair<double, QString>> worst;  // the longest stall of each action
    const auto act = [&](const QString& what, const std::function<void()>& action, int ms) {
      stallProbe.start();
      action();
      const auto until = Clock::now() + std::chrono::milliseconds(ms);
      wait_until([&] { return Clock::now() > until; });
      const auto lateness = stallProbe.stop();
      stalls.insert(stalls.end(), lateness.begin(), lateness.end());
      worst.emplace_back(percentile(lateness, 1.0), what);
    };
    for (int pass = 0; pass < 2; ++pass)
      for (const QString& view : gex::ui::MainWindow::viewNames())
        act(QStringLiteral("show %1 (pass %2)").arg(view).arg(pass + 1), [&] { window.showView(view); }, 400);
    window.showView(QStringLiteral("train"));
    auto* backbone = window.trainView()->findChild<QComboBox*>();
    for (int i = 0; backbone && i < backbone->count(); ++i)
      act(QStringLiteral("backbone %1").arg(backbone->itemText(i)), [&] { backbone->setCurrentIndex(i); }, 250);
    std::sort(worst.rbegin(), worst.rend());
    for (size_t i = 0; i < std::min<size_t>(3, worst.size()); ++i)
      std::fprintf(stderr, "  stall %.1f ms: %s\n", worst[i].first, qPrintable(worst[i].second));
  }

  std::printf("GE Explorer, the application's figures (offscreen, %d thread(s))\n\n", threads);
  if (!plotsOnly) {
    const auto best = [](const std::vector<std::optional<double>>& v) {
      std::optional<double> b;
      for (const auto& x : v)
        if (x && (!b || *x > *b)) b = x;
      return b;
    };
    const auto bc = best(cli), bg = best(gui);
    std::printf("  %-52s %10s %10s %8s\n", "", "GUI", "gex train", "ratio");
    std::printf("  %-52s %10s %10s %8s   (goal ≥ 0.95×; best of %d each, interleaved)\n",
                "training images/s, ResNet-20 GE-θ⁻ on Fashion-MNIST", qPrintable(figure(bg)), qPrintable(figure(bc)),
                bc && bg ? qPrintable(QString::number(*bg / *bc, 'f', 3) + QStringLiteral("×")) : "n/a", repeats);
    for (size_t r = 0; r < cli.size(); ++r)
      std::printf("  %-52s %10s %10s\n", qPrintable(QStringLiteral("  round %1").arg(r + 1)), qPrintable(figure(gui[r])),
                  qPrintable(figure(cli[r])));
    std::printf("  %-52s %10.1f %10s %8s   (goal p99 ≤ 50 ms; p50 %.1f, max %.1f, %zu ticks)\n",
                "event-loop latency while training, p99 ms", percentile(lateness, 0.99), "", "", percentile(lateness, 0.5),
                percentile(lateness, 1.0), lateness.size());
    std::printf("  %-52s %10.1f %10s %8s   (goal ≤ 100 ms; p99 %.1f ms, %zu ticks)\n",
                "longest stall, switching views and editing the form, ms", percentile(stalls, 1.0), "", "",
                percentile(stalls, 0.99), stalls.size());
  }
  std::printf("  %-52s %10.1f %10s %8s   (goal ≤ 20 ms; median of 10)\n", "replot of a 1 M-point curve (+ smoothed), ms",
              percentile(replots, 0.5), "", "");
  std::printf("  %-52s %10.1f %10s %8s   (max %.1f ms over 50 appends)\n", "append 1000 points to it live, median ms",
              percentile(appends, 0.5), "", "", percentile(appends, 1.0));
  std::printf("  %-52s %10.0f %10s %8s   (goal ≤ 1500 ms)\n", "main() to first painted window, ms", firstPaint.ms, "", "");
  for (const auto& [name, ms] : {std::make_pair("Selectivity", &scrubSelectivity), std::make_pair("Pruning", &scrubPruning)})
    std::printf("  %-52s %10.1f %10s %8s   (goal ≤ 50 ms; median %.1f, %zu steps, files read as it goes)\n",
                qPrintable(QStringLiteral("scrub 100 probes in %1, slowest step ms").arg(QLatin1String(name))),
                percentile(*ms, 1.0), "", "", percentile(*ms, 0.5), ms->size());
  const bool failed = std::any_of(cli.begin(), cli.end(), [](auto& v) { return !v; }) ||
                      std::any_of(gui.begin(), gui.end(), [](auto& v) { return !v; });
  return failed ? 1 : 0;
}
