// The analyses of a run as the views use them: computed in a Job through the engine, written as
// the CSVs of DESIGN §3 under the run's analyses/ (the user's cache folder for read-only shipped
// runs) and read back from there next time.
#pragma once

#include <QString>
#include <QStringList>

#include <functional>
#include <vector>

namespace gex::ui {

class Job;
struct RunRecord;

QString analysis_path(const RunRecord& run, const QString& file);

struct LayerSelectivity {
  QString layer;
  std::vector<double> csi;  // one per unit
};
// Layers in file (depth) order; empty with `error` set when the file is unreadable.
std::vector<LayerSelectivity> read_selectivity(const QString& csv, QString* error = nullptr);
QString selectivity_file(int limit);
// Runs on the job's thread: the run's best checkpoint over the first `limit` test images.
void compute_selectivity(const RunRecord& run, int limit, const QString& csv, Job& job);

struct PruningPoint {
  double ratio = 0;
  int repeat = 0;
  double top1_error = 0;
};
std::vector<PruningPoint> read_pruning(const QString& csv, QString* error = nullptr);
QString pruning_file(const QString& block, const QString& order, int limit);
// Each point is handed to `on_point` (on the job's thread) as it is measured.
void compute_pruning(const RunRecord& run, const QString& block, const QString& order, int limit,
                     const QString& csv, Job& job, const std::function<void(const PruningPoint&)>& on_point);
// Residual block paths of the run's model, in depth order, and its stages ("layer1", …).
QStringList block_names(const RunRecord& run);

}  // namespace gex::ui
