// The analyses of runs as the views use them: class selectivity and pruning curves read from the
// CSVs of DESIGN §3 in each run's analyses/ (the user's cache folder for read-only shipped runs),
// or computed through the engine in a Job when missing. One store per view: at most one job per
// file, one job at a time (the others wait their turn: on a few cores, running them all at once
// only makes each slower and the window slow to answer), and a file whose job failed or was
// cancelled is not started again until retry().
#pragma once

#include <QHash>
#include <QObject>
#include <QSet>
#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

#include "job.h"

namespace gex::ui {

struct RunRecord;

// Where a run's analysis `file` of its best checkpoint is: its analyses/best-step-S/ folder (named
// by that checkpoint: a newer best is measured anew), or for a shipped or read-only run the one it
// was shipped with there, else the user's cache folder (by the run's name and place).
QString analysis_path(const RunRecord& run, const QString& file);

struct LayerSelectivity {
  QString layer;
  std::vector<double> csi;  // one per unit
};
// Layers in file (depth) order; empty with `error` set when the file is unreadable.
std::vector<LayerSelectivity> read_selectivity(const QString& csv, QString* error = nullptr);
QString selectivity_file(int limit);

struct PruningPoint {
  double ratio = 0;
  int repeat = 0;
  double top1_error = 0;
  QString order;  // the CSV's order column (a probe's file holds two orders)
};
std::vector<PruningPoint> read_pruning(const QString& csv, QString* error = nullptr);
QString pruning_file(const QString& block, const QString& order, int limit);

// What the Pruning view's order names mean, for tooltips.
QString describe_prune_order(const QString& order);

class AnalysisStore : public QObject {
  Q_OBJECT

 public:
  explicit AnalysisStore(QObject* parent = nullptr);
  ~AnalysisStore() override;

  // The selectivity of the run's best checkpoint over the first `limit` test images; nullptr
  // while it is computed (changed() follows), or when it failed (failed() said why).
  const std::vector<LayerSelectivity>* selectivity(const RunRecord& run, int limit);
  // The pruning curve of `block` (a block or a stage) by `order`: the points measured so far
  // (they grow while its job runs); nullptr before the first, or when it failed.
  const std::vector<PruningPoint>* pruning(const RunRecord& run, const QString& block, const QString& order,
                                           int limit);
  bool isComputing(const QString& csv) const { return m_jobs.contains(csv); }
  bool isBusy() const { return !m_jobs.isEmpty(); }  // running or waiting

  void cancel();  // every job of this store; their files are not started again until retry()
  // Jobs not started yet are dropped, unmarked (asked again, they start again): for a view that
  // is about to ask for what it shows now, so that what it showed before is not computed first.
  // Those cancelled while waiting stay cancelled (dropped, they were asked again and started anew).
  void dropWaiting();
  void retry();   // forget failed and cancelled files

 Q_SIGNALS:
  void jobStarted(gex::ui::Job* job);
  void changed();  // a result arrived or grew
  void failed(const QString& error);
  void warned(const QString& text);  // a result computed, with something to know (other files than the run's)
  // Not started: `run`'s data is not at `place`, where its run.json says (moved, or on another
  // machine's disk); started again by retry() once it is found.
  void dataMissing(const QString& run, const QString& place);
  void idle();  // the last job ended

 private:
  bool startable(const QString& csv) const;
  bool dataFound(const RunRecord& run, const QString& csv);  // else dataMissing(), the file stopped
  std::function<void(const QString&)> warner(Job& job);  // warned(), from the job's thread
  void run_job(Job* job, const QString& csv);
  void start_next();
  QHash<QString, std::vector<LayerSelectivity>> m_selectivity;
  QHash<QString, std::vector<PruningPoint>> m_pruning;
  QHash<QString, Job*> m_jobs;   // running or waiting
  QStringList m_waiting;         // files whose jobs have not started, in the order asked
  QSet<QString> m_stopped;  // failed or cancelled
};

}  // namespace gex::ui
