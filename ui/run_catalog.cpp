#include "run_catalog.h"

#include <QCollator>
#include <QDir>
#include <QFileInfo>
#include <QLocale>
#include <QSettings>

#include <algorithm>
#include <cmath>
#include <utility>
#include <exception>
#include <filesystem>

#include "analysis/study.h"
#include "io/atomic_file.h"
#include "plot_style.h"
#include "train/run_lock.h"

namespace gex::ui {

namespace {

// The sub-folders of `dir` in the order a file manager shows them: numbers by value, so that
// run-2 comes before run-10 and a study's e2 before e16.
QFileInfoList folders_in_natural_order(const QString& dir) {
  QFileInfoList entries = QDir(dir).entryInfoList(QDir::Dirs | QDir::NoDotAndDotDot, QDir::NoSort);
  // Qt's C locale (LANG=C on servers and in containers) compares code units and ignores numeric
  // mode: collate as English there.
  const QLocale locale = QLocale().language() == QLocale::C ? QLocale(QLocale::English) : QLocale();
  QCollator collator(locale);
  collator.setNumericMode(true);
  std::sort(entries.begin(), entries.end(),
            [&](const QFileInfo& a, const QFileInfo& b) { return collator.compare(a.fileName(), b.fileName()) < 0; });
  return entries;
}

}  // namespace

QString RunRecord::bestCheckpoint() const {
  const QString best = path + QStringLiteral("/checkpoints/best.safetensors");
  return QFileInfo::exists(best) ? best : path + QStringLiteral("/checkpoints/last.safetensors");
}

bool RunRecord::stalled() const {
  if (!readable || status != RunStatus::kRunning) return false;
  if (writerAlive) return !*writerAlive;
  return updated.isValid() && updated.secsTo(QDateTime::currentDateTime()) > 10 * 60;
}

QString RunRecord::shortName() const {
  return study.isEmpty() ? name : variant + QStringLiteral(" · ") + QFileInfo(path).fileName();
}

QString RunRecord::statusText() const {
  if (!readable) return QObject::tr("unreadable");
  if (stalled()) return QObject::tr("stalled");
  return QString::fromStdString(to_string(status));
}

bool RunRecord::hasCheckpoint() const { return QFileInfo::exists(bestCheckpoint()); }

RunRecord read_run(const QString& dir, bool shipped) {
  RunRecord r;
  r.path = QFileInfo(dir).canonicalFilePath();
  if (r.path.isEmpty()) r.path = dir;
  r.name = QFileInfo(r.path).fileName();
  r.shipped = shipped;
  try {
    const auto run = RunDirectory::open(r.path.toStdString());
    r.config = run.config();
    r.model = QString::fromStdString(r.config.model.describe());
    r.status = run.status();
    r.message = QString::fromStdString(run.message());
    r.world_size = run.world_size();
    for (const auto& h : run.hosts()) r.hosts << QString::fromStdString(h);
    if (QFileInfo::exists(QString::fromStdString(run.metrics_path())))
      r.metrics = read_metrics(run.metrics_path());
    if (r.status == RunStatus::kRunning) r.writerAlive = run_is_locked(r.path.toStdString());
  } catch (const std::exception& e) {
    r.readable = false;
    r.message = QString::fromStdString(e.what());
    return r;
  }
  for (const char* f : {"/run.json", "/metrics.csv"}) {
    const QFileInfo info(r.path + QLatin1String(f));
    if (info.exists() && (!r.updated.isValid() || info.lastModified() > r.updated)) r.updated = info.lastModified();
  }
  std::vector<double> speeds;
  for (const auto& m : r.metrics) {
    if (m.split == "val" && (std::isnan(r.best_error) || m.top1_error < r.best_error)) {
      r.best_error = m.top1_error;
      r.best_epoch = m.epoch;
    }
    if (m.split == "train" && m.images_per_second > 0) speeds.push_back(m.images_per_second);
  }
  if (!speeds.empty()) {
    std::nth_element(speeds.begin(), speeds.begin() + speeds.size() / 2, speeds.end());
    r.images_per_second = speeds[speeds.size() / 2];
  }
  return r;
}

RunCatalog::RunCatalog(QObject* parent) : QObject(parent), m_users(kRunColours, 0) {
  // Colours given in earlier sessions, so that a run is drawn as it was yesterday; those of runs
  // that are gone are forgotten.
  const QVariantMap remembered = QSettings().value(QStringLiteral("runColours")).toMap();
  for (auto it = remembered.begin(); it != remembered.end(); ++it)
    if (QFileInfo::exists(it.key())) m_colours.insert(it.key(), it.value().toInt());
  // Training appends a row every few seconds and rewrites run.json: coalesce the bursts.
  m_debounce.setSingleShot(true);
  m_debounce.setInterval(150);
  connect(&m_debounce, &QTimer::timeout, this, [this] {
    const QStringList pending = std::exchange(m_pending, {});
    bool listChanged = false;
    for (const QString& p : pending) {
      if (p == m_runsDir || p == m_shippedDir) {
        listChanged = true;
        continue;
      }
      reload(p);
    }
    if (listChanged) rescan();
  });
  const auto changed = [this](const QString& runOrRoot) {
    if (!m_pending.contains(runOrRoot)) m_pending << runOrRoot;
    m_debounce.start();
  };
  // A watched file lives directly in its run directory; a watched folder is a run or a root.
  connect(&m_watcher, &QFileSystemWatcher::fileChanged, this,
          [changed](const QString& file) { changed(QFileInfo(file).absolutePath()); });
  connect(&m_watcher, &QFileSystemWatcher::directoryChanged, this, changed);
  m_liveness.setInterval(3000);
  connect(&m_liveness, &QTimer::timeout, this, [this, changed] {
    for (const auto& r : m_runs)
      if (r.readable && r.status == RunStatus::kRunning && run_is_locked(r.path.toStdString()) != r.writerAlive)
        changed(r.path);
  });
  m_liveness.start();
}

QString RunCatalog::setRunsDirectory(const QString& dir) {
  const QFileInfo info(dir);
  if (info.exists() && !info.isDir()) return tr("%1: not a folder; the runs folder must be one").arg(dir);
  if (!QDir().mkpath(dir)) return tr("%1: the runs folder cannot be created there").arg(dir);
  m_runsDir = QFileInfo(dir).canonicalFilePath();
  rescan();
  return {};
}

void RunCatalog::setShippedDirectory(const QString& dir) {
  m_shippedDir = QFileInfo(dir).canonicalFilePath();
  rescan();
}

bool RunCatalog::addRun(const QString& dir, QString* error) {
  if (!QFileInfo::exists(dir + QStringLiteral("/run.json")) && !QFileInfo::exists(dir + QStringLiteral("/study.json"))) {
    if (error) *error = tr("%1: neither a run directory (no run.json) nor a study's (no study.json)").arg(dir);
    return false;
  }
  const QString canonical = QFileInfo(dir).canonicalFilePath();
  if (!m_extra.contains(canonical)) m_extra << canonical;
  rescan();
  return true;
}

const RunRecord* RunCatalog::find(const QString& path) const {
  const QString canonical = QFileInfo(path).canonicalFilePath();
  for (const auto& r : m_runs)
    if (r.path == path || r.path == canonical) return &r;
  return nullptr;
}

int RunCatalog::colourOf(const QString& path) {
  // The canonical path, also of a folder not made yet (a study's variant as its first run is
  // announced), so that a link in the runs folder's path does not give the run one colour before
  // it exists and another after.
  const QString absolute = QFileInfo(path).absoluteFilePath();
  std::error_code ec;
  const auto canonical = std::filesystem::weakly_canonical(absolute.toStdString(), ec);
  const QString key = ec ? absolute : QString::fromStdString(canonical.string());
  if (const auto known = m_colours.constFind(key); known != m_colours.cend()) return known.value();
  // The colour fewest runs on disk have (the first of those), so that runs drawn together differ
  // as far as ten colours allow, and a deleted run's colour goes to the next one.
  const int colour = int(std::min_element(m_users.begin(), m_users.end()) - m_users.begin());
  ++m_users[size_t(colour)];
  m_colours.insert(key, colour);
  QVariantMap remembered;
  for (auto it = m_colours.cbegin(); it != m_colours.cend(); ++it) remembered.insert(it.key(), it.value());
  QSettings().setValue(QStringLiteral("runColours"), remembered);
  return colour;
}

int RunCatalog::runColour(const QString& runDir) {
  const QFileInfo run(runDir);
  const QString variant = run.absolutePath();
  const bool inStudy = run.fileName().startsWith(QStringLiteral("seed-")) &&
                       QFileInfo::exists(QFileInfo(variant).absolutePath() + QStringLiteral("/study.json"));
  return colourOf(inStudy ? variant : runDir);
}

const RunGroup* RunCatalog::findGroup(const QString& key) const {
  for (const auto& g : m_groups)
    if (g.key == key) return &g;
  return nullptr;
}

std::vector<const RunRecord*> RunCatalog::runsOf(const RunGroup& group) const {
  std::vector<const RunRecord*> out;
  for (const QString& path : group.runs)
    if (const RunRecord* r = find(path)) out.push_back(r);
  return out;
}

const RunRecord* RunCatalog::analysedRunOf(const RunGroup& group) const {
  for (const RunRecord* r : runsOf(group))
    if (r->hasCheckpoint()) return r;
  return nullptr;
}

void RunCatalog::scanStudy(const QString& dir, bool shipped) {
  const QString study = QFileInfo(dir).canonicalFilePath();
  const QString studyName = QFileInfo(study).fileName();
  m_studyFolders << study;
  // The variants in the plan's order (the baseline first, as the user listed them); folders the
  // plan does not name after them.
  QStringList variants;
  try {
    const std::string plan = (study + QStringLiteral("/study.json")).toStdString();
    for (const auto& v : StudyPlan::from_json(read_file(plan), plan).variants) variants << QString::fromStdString(v.name);
  } catch (const std::exception&) {
  }
  for (const QFileInfo& d : folders_in_natural_order(study))
    if (!variants.contains(d.fileName())) variants << d.fileName();
  for (const QString& variant : variants) {
    const QString folder = study + QLatin1Char('/') + variant;
    if (!QFileInfo(folder).isDir()) continue;
    m_studyFolders << folder;
    RunGroup group;
    group.key = folder;
    group.study = study;
    group.variant = variant;
    group.name = studyName + QStringLiteral(" · ") + variant;
    group.shipped = shipped;
    auto seeds = QDir(folder).entryList({QStringLiteral("seed-*")}, QDir::Dirs);
    std::sort(seeds.begin(), seeds.end(), [](const QString& a, const QString& b) {
      return a.mid(5).toULongLong() < b.mid(5).toULongLong();
    });
    for (const QString& seed : seeds) {
      if (!QFileInfo::exists(folder + QLatin1Char('/') + seed + QStringLiteral("/run.json"))) continue;
      RunRecord r = read_run(folder + QLatin1Char('/') + seed, shipped);
      r.study = study;
      r.variant = variant;
      r.name = group.name + QStringLiteral(" · ") + seed;
      group.runs << r.path;
      m_runs.push_back(std::move(r));
    }
    if (!group.runs.isEmpty()) m_groups.push_back(std::move(group));
  }
}

void RunCatalog::rescan() {
  if (!m_watcher.files().isEmpty()) m_watcher.removePaths(m_watcher.files());
  if (!m_watcher.directories().isEmpty()) m_watcher.removePaths(m_watcher.directories());
  m_runs.clear();
  m_groups.clear();
  m_studyFolders.clear();
  const auto scan = [this](const QString& root, bool shipped) {
    if (root.isEmpty()) return;
    m_watcher.addPath(root);
    for (const QFileInfo& e : folders_in_natural_order(root)) {
      if (QFileInfo::exists(e.filePath() + QStringLiteral("/run.json"))) m_runs.push_back(read_run(e.filePath(), shipped));
      else if (QFileInfo::exists(e.filePath() + QStringLiteral("/study.json"))) scanStudy(e.filePath(), shipped);
    }
  };
  scan(m_shippedDir, true);
  scan(m_runsDir, false);
  for (const QString& dir : m_extra) {
    if (!find(dir) && QFileInfo::exists(dir + QStringLiteral("/run.json"))) m_runs.push_back(read_run(dir, false));
    else if (!m_studyFolders.contains(dir) && QFileInfo::exists(dir + QStringLiteral("/study.json"))) scanStudy(dir, false);
  }
  // The colours the runs on disk have already, so that a new one takes the least used.
  m_users.assign(kRunColours, 0);
  const auto count = [this](const QString& key) {
    if (const auto c = m_colours.constFind(key); c != m_colours.cend()) ++m_users[size_t(c.value() % kRunColours)];
  };
  for (const auto& g : m_groups) count(g.key);
  for (const auto& r : m_runs)
    if (r.study.isEmpty()) count(r.path);  // a study's runs have their group's colour
  for (auto& g : m_groups) g.colour = colourOf(g.key);
  for (auto& r : m_runs) {
    r.colour = runColour(r.path);
    watch(r);
  }
  for (const QString& folder : m_studyFolders)
    if (!folder.startsWith(m_shippedDir + QLatin1Char('/')) || m_shippedDir.isEmpty()) m_watcher.addPath(folder);
  Q_EMIT runsChanged();
}

void RunCatalog::watch(const RunRecord& run) {
  if (run.shipped) return;
  // Watching the folder catches files created later (metrics.csv, checkpoints/); the files catch
  // appends and atomic replacements.
  m_watcher.addPath(run.path);
  for (const char* f : {"/run.json", "/metrics.csv"})
    if (QFileInfo::exists(run.path + QLatin1String(f))) m_watcher.addPath(run.path + QLatin1String(f));
}

void RunCatalog::reload(const QString& path) {
  auto it = std::find_if(m_runs.begin(), m_runs.end(), [&](const RunRecord& r) { return r.path == path; });
  if (it == m_runs.end()) {
    // A new run folder inside the runs directory, or a new variant or seed of a study.
    if (QFileInfo(path).absolutePath() == m_runsDir || path == m_runsDir || m_studyFolders.contains(path)) rescan();
    return;
  }
  if (!QFileInfo::exists(path + QStringLiteral("/run.json"))) {
    rescan();  // deleted
    return;
  }
  const int colour = it->colour;
  *it = read_run(path, it->shipped);
  it->colour = colour;
  watch(*it);  // an atomic rename replaces the watched file: watch the new one
  Q_EMIT runUpdated(path);
}

}  // namespace gex::ui
