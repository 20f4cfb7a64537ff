#include "probe_timeline.h"

#include <QComboBox>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QSlider>
#include <QStyle>
#include <QTimer>
#include <QToolButton>

#include <algorithm>
#include <cmath>
#include <set>

#include "errors.h"
#include "run_catalog.h"
#include "train_process.h"

namespace gex::ui {

namespace {

QString index_file(const QString& run) { return QDir(run).filePath(QStringLiteral("probes/index.csv")); }

QString probe_dir(const QString& run, const ProbeRecord* probe) {
  return probe ? QDir(run).filePath(QStringLiteral("probes/") + QString::fromStdString(probe->dir)) : QString();
}

}  // namespace

ProbeTimeline::ProbeTimeline(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent),
      m_catalog(catalog),
      m_slider(new QSlider(Qt::Horizontal, this)),
      m_play(new QToolButton(this)),
      m_speed(new QComboBox(this)),
      m_label(new QLabel(this)),
      m_compute(new QPushButton(tr("Compute probes"), this)),
      m_playTimer(new QTimer(this)),
      m_poll(new QTimer(this)) {
  auto* row = new QHBoxLayout(this);
  row->setContentsMargins(0, 0, 0, 0);
  m_play->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
  m_play->setAccessibleName(tr("Play the probes"));
  m_play->setToolTip(tr("Play the analyses through training, one probe after another"));
  m_slider->setAccessibleName(tr("Training step"));
  m_slider->setToolTip(tr("The step whose probe the view shows: analyses recorded while the run trained. At the "
                          "right end the view follows the newest probe of a run still training."));
  m_slider->setPageStep(1);
  for (int fps : {1, 2, 4, 8}) m_speed->addItem(tr("%1 probes/s").arg(fps), fps);
  m_speed->setCurrentIndex(2);
  m_speed->setToolTip(tr("Playback speed"));
  m_speed->setAccessibleName(tr("Playback speed"));
  m_compute->setToolTip(tr("These runs have no probes (trained before probes, or with --no-probes): compute them "
                           "from their kept checkpoints with gex probe"));
  row->addWidget(m_play);
  row->addWidget(m_slider, 1);
  row->addWidget(m_label);
  row->addWidget(m_speed);
  row->addWidget(m_compute);
  m_label->setMinimumWidth(fontMetrics().horizontalAdvance(QStringLiteral("step 000,000 · epoch 000.00 · 000/000")));
  connect(m_slider, &QSlider::valueChanged, this, [this](int value) {
    m_follow = value == m_slider->maximum();
    showStep();
    Q_EMIT stepChanged(currentStep());
    Q_EMIT moved(currentStep());
  });
  connect(m_play, &QToolButton::clicked, this, &ProbeTimeline::togglePlay);
  connect(m_speed, &QComboBox::currentIndexChanged, this, [this] {
    m_playTimer->setInterval(1000 / std::max(1, m_speed->currentData().toInt()));
  });
  m_playTimer->setInterval(1000 / 4);
  connect(m_playTimer, &QTimer::timeout, this, [this] {
    if (m_slider->value() >= m_slider->maximum()) return togglePlay();  // stop at the newest
    m_slider->setValue(m_slider->value() + 1);
  });
  connect(m_compute, &QPushButton::clicked, this, &ProbeTimeline::computeProbes);
  // A run that another process trains writes probes between its metrics rows: look every 2 s.
  m_poll->setInterval(2000);
  connect(m_poll, &QTimer::timeout, this, [this] {
    if (isVisible()) refresh();
  });
  m_poll->start();
  rebuild();
}

ProbeTimeline::~ProbeTimeline() {
  if (m_process) m_process->kill(), m_process->waitForFinished(2000);
}

void ProbeTimeline::setRuns(const QStringList& paths) {
  m_runs = paths;
  refresh();
  rebuild();
}

void ProbeTimeline::refresh() {
  bool changed = false;
  for (const QString& run : m_runs) {
    const FileStamp stamp = file_stamp(index_file(run));
    RunProbes& p = m_probes[run];
    if (p.stamp == stamp) continue;
    p.stamp = stamp;
    p.records.clear();
    if (stamp.exists()) {
      try {
        p.records = read_probe_index(run.toStdString());
      } catch (const Error& e) {
        Q_EMIT message(QString::fromStdString(e.what()));
      }
    }
    changed = true;
  }
  if (changed) {
    rebuild();
    Q_EMIT probesChanged();
  }
}

const std::vector<ProbeRecord>& ProbeTimeline::records(const QString& run) const {
  static const std::vector<ProbeRecord> kNone;
  auto it = m_probes.constFind(run);
  return it == m_probes.constEnd() ? kNone : it->records;
}

QString ProbeTimeline::probeDir(const QString& run, int64_t step) const {
  const ProbeRecord* found = nullptr;
  for (const auto& r : records(run))
    if (r.step <= step) found = &r;
  return probe_dir(run, found);
}

double ProbeTimeline::currentKey() const {
  if (m_keys.empty()) return -1;
  return m_keys[std::clamp<size_t>(size_t(std::max(0, m_slider->value())), 0, m_keys.size() - 1)];
}

std::vector<int64_t> ProbeTimeline::steps() const {
  std::set<int64_t> all;
  for (const QString& run : m_runs)
    for (const auto& r : records(run)) all.insert(r.step);
  return {all.begin(), all.end()};
}

int64_t ProbeTimeline::currentStep() const {
  if (m_keys.empty()) return -1;
  if (!m_byEpoch) return int64_t(currentKey());
  int64_t step = -1;
  for (const QString& run : m_runs)
    for (const auto& r : records(run))
      if (std::abs(r.epoch - currentKey()) < 1e-9) step = std::max(step, r.step);
  return step;
}

double ProbeTimeline::currentEpoch() const {
  if (m_keys.empty()) return -1;
  if (m_byEpoch) return currentKey();
  for (const QString& run : m_runs)
    for (const auto& r : records(run))
      if (r.step == currentStep()) return r.epoch;
  return -1;
}

QString ProbeTimeline::currentProbeDir(const QString& run) const {
  if (!m_byEpoch) return probeDir(run, currentStep());
  const ProbeRecord* found = nullptr;
  for (const auto& r : records(run))
    if (r.epoch <= currentKey() + 1e-9) found = &r;
  return probe_dir(run, found);
}

QString ProbeTimeline::exactProbeDir(const QString& run) const {
  for (const auto& r : records(run))
    if (m_byEpoch ? std::abs(r.epoch - currentKey()) < 1e-6 : r.step == currentStep())
      return probe_dir(run, &r);
  return {};
}

void ProbeTimeline::setAlignByEpoch(bool on) {
  m_byEpoch = on;
  rebuild();
}

void ProbeTimeline::setCurrentStep(int64_t step) {
  if (m_keys.empty()) return;
  double key = double(step);
  if (m_byEpoch)  // the epoch of that step in the first run that probed it
    for (const QString& run : m_runs)
      for (const auto& r : records(run))
        if (r.step == step) key = r.epoch;
  const auto it = std::upper_bound(m_keys.begin(), m_keys.end(), key + 1e-9);
  m_slider->setValue(it == m_keys.begin() ? 0 : int(it - m_keys.begin()) - 1);
}

void ProbeTimeline::rebuild() {
  const double before = currentKey();
  const int64_t stepBefore = currentStep();
  std::set<double> all;
  for (const QString& run : m_runs)
    for (const auto& r : records(run)) all.insert(m_byEpoch ? r.epoch : double(r.step));
  m_keys.assign(all.begin(), all.end());
  {
    const QSignalBlocker block(m_slider);
    m_slider->setRange(0, std::max<int>(0, int(m_keys.size()) - 1));
    if (m_follow || before < 0) {
      m_slider->setValue(m_slider->maximum());
    } else {
      const auto it = std::upper_bound(m_keys.begin(), m_keys.end(), before + 1e-9);
      m_slider->setValue(it == m_keys.begin() ? 0 : int(it - m_keys.begin()) - 1);
    }
  }
  m_slider->setEnabled(m_keys.size() > 1);
  m_play->setEnabled(m_keys.size() > 1);
  bool missing = false;
  for (const QString& run : m_runs) {
    const RunRecord* r = m_catalog->find(run);
    // (Shipped runs are read-only: their probes come with them or not at all.)
    if (r && r->hasCheckpoint() && !r->live() && !r->shipped && records(run).empty()) missing = true;
  }
  m_compute->setVisible(missing);
  m_compute->setEnabled(!m_process);
  showStep();
  if (currentStep() != stepBefore || currentKey() != before) Q_EMIT stepChanged(currentStep());
}

void ProbeTimeline::showStep() {
  if (m_keys.empty()) {
    m_label->setText(m_process ? tr("computing probes…") : tr("no probes"));
    return;
  }
  const QString newest = m_follow && m_keys.size() > 1 ? tr(" (newest)") : QString();
  if (m_byEpoch)
    m_label->setText(tr("epoch %1 · %2/%3%4").arg(currentKey(), 0, 'f', 2).arg(m_slider->value() + 1).arg(m_keys.size()).arg(newest));
  else
    m_label->setText(tr("step %L1 · epoch %2 · %3/%4%5")
                         .arg(currentStep())
                         .arg(currentEpoch(), 0, 'f', 2)
                         .arg(m_slider->value() + 1)
                         .arg(m_keys.size())
                         .arg(newest));
}

void ProbeTimeline::togglePlay() {
  if (m_playTimer->isActive()) {
    m_playTimer->stop();
    m_play->setIcon(style()->standardIcon(QStyle::SP_MediaPlay));
    return;
  }
  if (m_slider->value() >= m_slider->maximum()) m_slider->setValue(0);
  m_playTimer->start();
  m_play->setIcon(style()->standardIcon(QStyle::SP_MediaPause));
}

// `gex probe` on each shown run without probes, one after another.
void ProbeTimeline::computeProbes() {
  QStringList queue;
  for (const QString& run : m_runs) {
    const RunRecord* r = m_catalog->find(run);
    if (!r || !r->hasCheckpoint() || r->live() || !records(run).empty()) continue;
    if (r->shipped || !QFileInfo(run).isWritable()) {
      Q_EMIT message(tr("%1 is read-only: copy the run to compute its probes").arg(r->name));
      continue;
    }
    queue << run;
  }
  if (queue.isEmpty() || m_process) return;
  auto next = std::make_shared<std::function<void()>>();
  *next = [this, queue, next, at = 0]() mutable {
    if (at == queue.size()) {
      m_process->deleteLater();
      m_process = nullptr;
      refresh();
      rebuild();
      return;
    }
    const QString run = queue[at++];
    if (!m_process) {
      m_process = new QProcess(this);
      m_process->setProcessChannelMode(QProcess::MergedChannels);
      connect(m_process, &QProcess::finished, this, [this, next](int code, QProcess::ExitStatus status) {
        if (status != QProcess::NormalExit || code != 0)
          Q_EMIT message(tr("gex probe failed: %1").arg(QString::fromLocal8Bit(m_process->readAll()).trimmed()));
        refresh();
        (*next)();
      });
    }
    m_label->setText(tr("computing the probes of %1…").arg(QDir(run).dirName()));
    m_process->start(gex_program(), {QStringLiteral("probe"), QStringLiteral("--run"), run});
  };
  m_compute->setEnabled(false);
  (*next)();
}

}  // namespace gex::ui
