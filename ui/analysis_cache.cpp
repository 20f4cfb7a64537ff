#include "analysis_cache.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>
#include <QTextStream>

#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "data/dataset.h"
#include "job.h"
#include "models/registry.h"
#include "run_catalog.h"
#include "train/checkpoint.h"

namespace gex::ui {

namespace {

Dataset test_data(const RunRecord& run) {
  DataOptions options;
  options.seed = run.config.seed;
  options.input_size = run.config.model.input_size;
  options.synthetic_size = run.config.model.input_size;
  options.synthetic_channels = run.config.model.in_channels;
  return load_dataset(run.config.data, options);
}

QStringList csv_rows(const QString& path, QString* error) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly | QIODevice::Text)) {
    if (error) *error = QObject::tr("%1: %2").arg(path, f.errorString());
    return {};
  }
  QStringList rows = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
  if (!rows.isEmpty()) rows.removeFirst();  // header
  return rows;
}

}  // namespace

QString analysis_path(const RunRecord& run, const QString& file) {
  QString dir = run.path + QStringLiteral("/analyses");
  if (run.shipped || !QFileInfo(run.path).isWritable())
    dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/analyses/") + run.name;
  QDir().mkpath(dir);
  return dir + QLatin1Char('/') + file;
}

QString selectivity_file(int limit) { return QStringLiteral("selectivity-test-%1.csv").arg(limit); }

QString pruning_file(const QString& block, const QString& order, int limit) {
  return QStringLiteral("pruning-%1-%2-test-%3.csv").arg(block, order).arg(limit);
}

std::vector<LayerSelectivity> read_selectivity(const QString& csv, QString* error) {
  std::vector<LayerSelectivity> out;
  for (const QString& row : csv_rows(csv, error)) {
    const QStringList f = row.split(QLatin1Char(','));
    if (f.size() < 3) {
      if (error) *error = QObject::tr("%1: malformed row '%2'").arg(csv, row);
      return {};
    }
    if (out.empty() || out.back().layer != f[0]) out.push_back({f[0], {}});
    out.back().csi.push_back(f[2].toDouble());
  }
  return out;
}

std::vector<PruningPoint> read_pruning(const QString& csv, QString* error) {
  std::vector<PruningPoint> out;
  for (const QString& row : csv_rows(csv, error)) {
    const QStringList f = row.split(QLatin1Char(','));
    if (f.size() < 5) {
      if (error) *error = QObject::tr("%1: malformed row '%2'").arg(csv, row);
      return {};
    }
    out.push_back({f[2].toDouble(), f[3].toInt(), f[4].toDouble()});
  }
  return out;
}

void compute_selectivity(const RunRecord& run, int limit, const QString& csv, Job& job) {
  auto ckpt = load_checkpoint(run.bestCheckpoint().toStdString());
  job.reportProgress(-1, QObject::tr("%1: loading %2").arg(run.name, QString::fromStdString(run.config.data)));
  const Dataset data = test_data(run);
  SelectivityOptions options;
  options.limit = limit;
  options.cancel = job.cancelFlag();
  const QString name = run.name;
  options.progress = [&job, name](int64_t done, int64_t total) {
    job.reportProgress(double(done) / std::max<int64_t>(1, total), QObject::tr("selectivity of %1").arg(name));
  };
  const auto result = class_selectivity(*ckpt.net, data.test, ckpt.info.preprocess, options);
  if (!job.cancelled()) write_selectivity_csv(csv.toStdString(), result);
}

void compute_pruning(const RunRecord& run, const QString& block, const QString& order, int limit,
                     const QString& csv, Job& job, const std::function<void(const PruningPoint&)>& on_point) {
  auto ckpt = load_checkpoint(run.bestCheckpoint().toStdString());
  const Dataset data = test_data(run);
  PruneOptions options;
  options.label = block.toStdString();
  for (const auto& [path, b] : ckpt.net->blocks())
    if (path == options.label || path.rfind(options.label + ".", 0) == 0) options.blocks.push_back(path);
  options.order = order.toStdString();
  options.repeats = order == QLatin1String("random") ? 3 : 1;
  options.limit = limit;
  options.cancel = job.cancelFlag();
  size_t done = 0;
  const size_t total = options.ratios.size() * size_t(options.repeats);
  const auto rows = pruning_curve(*ckpt.net, data.test, ckpt.info.preprocess, options, [&](const PruneRow& r) {
    on_point({r.ratio, r.repeat, r.top1_error});
    job.reportProgress(double(++done) / double(total), QObject::tr("pruning %1 of %2 (%3)").arg(block, run.name, order));
  });
  if (!job.cancelled()) write_pruning_csv(csv.toStdString(), rows);
}

QStringList block_names(const RunRecord& run) {
  QStringList blocks, stages;
  auto net = build_network(run.config.model);
  for (const auto& [path, b] : net->blocks()) {
    const QString p = QString::fromStdString(path);
    blocks << p;
    const QString stage = p.section(QLatin1Char('.'), 0, 0);
    if (p.contains(QLatin1Char('.')) && !stages.contains(stage)) stages << stage;
  }
  return stages + blocks;
}

}  // namespace gex::ui
