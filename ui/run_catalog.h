// The runs the application knows: every run directory under the runs folder and the shipped
// default runs, read from run.json and metrics.csv and kept up to date by watching the files, so
// a run that `gex train` writes in a terminal shows up and grows live. The runs of a study
// (DIR/study.json, DIR/<variant>/seed-<k>/) come grouped: one group per variant.
#pragma once

#include <QDateTime>
#include <QFileSystemWatcher>
#include <QHash>
#include <QObject>
#include <QStringList>
#include <QTimer>

#include <limits>
#include <optional>
#include <vector>

#include "train/run_dir.h"

namespace gex::ui {

struct RunRecord {
  QString path;  // canonical directory
  QString name;
  QString model;  // "resnet20 GE-θ⁻ (global, avg)"
  RunStatus status = RunStatus::kCreated;
  bool readable = true;  // false: run.json or metrics.csv could not be read (`message` says why)
  QString message;
  bool shipped = false;  // read-only default run
  int colour = 0;        // the run's colour in every view (run_color), fixed by the catalog
  TrainConfig config;
  int world_size = 1;  // processes of a data-parallel run
  QStringList hosts;   // their machines
  std::vector<MetricsRow> metrics;
  double best_error = std::numeric_limits<double>::quiet_NaN();  // best val top-1, fraction
  double best_epoch = 0;
  double images_per_second = 0;  // median of the train rows
  QDateTime updated;             // last write to run.json or metrics.csv
  QString study, variant;        // a study's run: the study's folder and its variant; else empty
  // A running run's lock (RUN/.lock): held, i.e. its writer lives, or not; nullopt when it has no
  // lock file (trained before locks) or its file system cannot lock.
  std::optional<bool> writerAlive;
  // "running" but its writer is gone (a SIGKILL, a lost node): its lock is free, or, for a run
  // without one, nothing was written for 10 minutes. The run can be resumed from its last checkpoint.
  bool stalled() const;
  // Being written by a live process (running and not stalled): not to be resumed or deleted.
  bool live() const { return readable && status == RunStatus::kRunning && !stalled(); }
  // "finished", "stalled", "unreadable", …
  QString statusText() const;
  // Where space is short: a study's run by variant and seed ("theta-minus · seed-2"), others by name.
  QString shortName() const;
  QString bestCheckpoint() const;
  bool hasCheckpoint() const;
};

// The runs of one variant of a study, seed by seed: drawn together as their mean and spread.
struct RunGroup {
  QString key;      // the variant's folder: study folder + "/" + variant
  QString study;    // the study's folder
  QString name;     // "<study> · <variant>"
  QString variant;  // "theta-minus", "theta-e4", …
  QStringList runs; // by seed
  int colour = 0;
  bool shipped = false;
};

class RunCatalog : public QObject {
  Q_OBJECT

 public:
  explicit RunCatalog(QObject* parent = nullptr);

  // The writable runs folder (created when missing) and the read-only shipped runs. A path that is
  // a file, or a folder that cannot be created, is refused: the problem, naming it, is returned
  // and the runs folder stays what it was.
  QString setRunsDirectory(const QString& dir);
  const QString& runsDirectory() const { return m_runsDir; }
  void setShippedDirectory(const QString& dir);
  // A run directory, or a study's folder (its runs grouped by variant), outside both folders
  // (`--open`, a drop); kept across rescans.
  bool addRun(const QString& dir, QString* error = nullptr);

  const std::vector<RunRecord>& runs() const { return m_runs; }
  const RunRecord* find(const QString& path) const;
  const std::vector<RunGroup>& groups() const { return m_groups; }
  const RunGroup* findGroup(const QString& key) const;
  // The records of a group's runs (those the catalog holds).
  std::vector<const RunRecord*> runsOf(const RunGroup& group) const;
  // The run whose analyses stand for the group: its first with a checkpoint (nullptr if none).
  const RunRecord* analysedRunOf(const RunGroup& group) const;
  void rescan();
  // The colour index of a run (RunRecord::colour), given to it now if it has none: a run that is
  // about to be written keeps the colour its live curves were drawn in, and a run keeps its colour
  // from one session to the next.
  int colourOf(const QString& path);
  // The colour of the run at `runDir`, known yet or not: a study's run (STUDY/<variant>/seed-<k>,
  // STUDY holding study.json) has its variant's, so that its group's curves and its analyses match.
  int runColour(const QString& runDir);

 Q_SIGNALS:
  void runsChanged();  // the list: added, removed, reordered
  void runUpdated(const QString& path);

 private:
  void reload(const QString& path);
  void watch(const RunRecord& run);
  void scanStudy(const QString& dir, bool shipped);
  QString m_runsDir, m_shippedDir;
  QStringList m_extra;
  std::vector<RunRecord> m_runs;
  std::vector<RunGroup> m_groups;
  QStringList m_studyFolders;  // studies and their variants' folders: a new run in one rescans
  QFileSystemWatcher m_watcher;
  QStringList m_pending;  // changed runs waiting for the debounce timer
  QTimer m_debounce;
  QTimer m_liveness;  // a writer that dies writes nothing: its runs' locks are looked at instead
  // Run or group path → colour index, given once (the least used), kept across sessions (settings).
  QHash<QString, int> m_colours;
  std::vector<int> m_users;  // per colour: runs on disk (at the last scan) and given since
};

// A run read from disk; not readable, with the message, when run.json or metrics.csv is broken.
RunRecord read_run(const QString& dir, bool shipped);

}  // namespace gex::ui
