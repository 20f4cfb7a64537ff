#include "analysis_store.h"

#include <QCryptographicHash>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QStandardPaths>

#include <memory>
#include <utility>

#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "data/dataset.h"
#include "errors.h"
#include "run_catalog.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"
#include "train/trainer.h"

namespace gex::ui {

namespace {

// The run's data as its checkpoint is measured everywhere (gex selectivity/prune, gex study
// --analyses, whose caches these files are too): its held-out files, labelled by its class names.
// Files there that are not those the run trained on are said through the store (`warn`).
Dataset test_data(const RunRecord& run, const CheckpointInfo& info, const std::function<void(const QString&)>& warn) {
  DataOptions options = checkpoint_data_options(info);
  options.cache_mb = run.config.cache_mb;
  options.loader_threads = run.config.loader_threads;
  options.decode_train = false;
  Dataset data = load_dataset(run.config.data, options);
  const auto then = RunDirectory::open(run.path.toStdString()).data_identity();
  if (const auto note = other_files_note(run.name.toStdString(), run.config.data, then, data); !note.empty())
    warn(QString::fromStdString(note));
  return data;
}

// Runs on the job's thread: the run's best checkpoint over the first `limit` test images.
void compute_selectivity(const RunRecord& run, int limit, const QString& csv, Job& job,
                         const std::function<void(const QString&)>& warn) {
  auto ckpt = load_checkpoint(run.bestCheckpoint().toStdString());
  job.reportProgress(-1, QObject::tr("%1: loading %2").arg(run.name, QString::fromStdString(run.config.data)));
  const Dataset data = test_data(run, ckpt.info, warn);
  SelectivityOptions options;
  options.limit = limit;
  options.control = &job.control();
  const QString name = run.name;
  options.progress = [&job, name](int64_t done, int64_t total) {
    job.reportProgress(double(done) / double(std::max<int64_t>(1, total)), QObject::tr("selectivity of %1").arg(name));
  };
  const auto result = class_selectivity(*ckpt.net, data.test, ckpt.info.preprocess, options);
  if (!job.cancelled()) write_selectivity_csv(csv.toStdString(), result);
}

// Each point is handed to `on_point` (on the job's thread) as it is measured.
void compute_pruning(const RunRecord& run, const QString& block, const QString& order, int limit, const QString& csv,
                     Job& job, const std::function<void(const QString&)>& warn,
                     const std::function<void(const PruningPoint&)>& on_point) {
  auto ckpt = load_checkpoint(run.bestCheckpoint().toStdString());
  job.reportProgress(-1, QObject::tr("%1: loading %2").arg(run.name, QString::fromStdString(run.config.data)));
  const Dataset data = test_data(run, ckpt.info, warn);
  PruneOptions options;
  options.label = block.toStdString();
  options.blocks = blocks_named(*ckpt.net, options.label);
  options.order = order.toStdString();
  options.repeats = order == QLatin1String("random") ? 3 : 1;
  options.limit = limit;
  options.control = &job.control();
  size_t done = 0;
  const size_t total = options.ratios.size() * size_t(options.repeats);
  const auto rows = pruning_curve(*ckpt.net, data.test, ckpt.info.preprocess, options, [&](const PruneRow& r) {
    on_point({r.ratio, r.repeat, r.top1_error, QString::fromStdString(r.order)});
    job.reportProgress(double(++done) / double(total), QObject::tr("pruning %1 of %2 (%3)").arg(block, run.name, order));
  });
  if (!job.cancelled()) write_pruning_csv(csv.toStdString(), rows);
}

}  // namespace

QString analysis_path(const RunRecord& run, const QString& file) {
  const QString tag = QString::fromStdString(checkpoint_tag(run.bestCheckpoint().toStdString()));
  QString dir = run.path + QStringLiteral("/analyses/") + tag;
  const QString own = dir + QLatin1Char('/') + file;
  if (run.shipped || !QFileInfo(run.path).isWritable()) {
    if (QFileInfo::exists(own)) return own;  // shipped with the run (scripts/ship-analyses.sh): read, never written
    // Named by the run's place too: two read-only runs of one name never share a file.
    const QByteArray place = QCryptographicHash::hash(run.path.toUtf8(), QCryptographicHash::Sha1).toHex().left(12);
    dir = QStandardPaths::writableLocation(QStandardPaths::CacheLocation) + QStringLiteral("/analyses/") + run.name +
          QLatin1Char('-') + QString::fromLatin1(place) + QLatin1Char('/') + tag;
  }
  QDir().mkpath(dir);
  return dir + QLatin1Char('/') + file;
}

QString selectivity_file(int limit) { return QString::fromStdString(gex::selectivity_file(limit)); }

QString pruning_file(const QString& block, const QString& order, int limit) {
  return QString::fromStdString(gex::pruning_file(block.toStdString(), order.toStdString(), limit));
}

QString describe_prune_order(const QString& order) {
  const QString kind = order.section(QLatin1Char('-'), 0, 0);
  const bool desc = order.endsWith(QLatin1String("-desc"));
  const QString first = desc ? QObject::tr("highest first") : QObject::tr("lowest first");
  if (kind == QLatin1String("csi"))
    return QObject::tr("Class selectivity index (Morcos et al.) of each channel, %1: %2").arg(
        first, desc ? QObject::tr("the most class-selective channels are pruned first")
                    : QObject::tr("the least class-selective channels are pruned first"));
  if (kind == QLatin1String("act")) return QObject::tr("Mean activation of each channel over the test images, %1").arg(first);
  if (kind == QLatin1String("l1"))
    return QObject::tr("L1 norm of the filter of the block's last convolution that makes each channel, %1").arg(first);
  if (kind == QLatin1String("gate")) return QObject::tr("Mean excite gate value of each channel (GE and SE models), %1").arg(first);
  return QObject::tr("Channels in a random order (seeded), mean of 3 repeats with their min–max band");
}

// The engine reads the files (one reader for each format); errors become the views' text.
std::vector<LayerSelectivity> read_selectivity(const QString& csv, QString* error) {
  std::vector<LayerSelectivity> out;
  try {
    for (auto& l : csi_by_layer(read_selectivity_csv(csv.toStdString())))
      out.push_back({QString::fromStdString(l.layer), std::move(l.csi)});
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return {};
  }
  return out;
}

std::vector<PruningPoint> read_pruning(const QString& csv, QString* error) {
  std::vector<PruningPoint> out;
  try {
    for (const auto& r : read_pruning_csv(csv.toStdString()))
      out.push_back({r.ratio, r.repeat, r.top1_error, QString::fromStdString(r.order)});
  } catch (const Error& e) {
    if (error) *error = QString::fromStdString(e.what());
    return {};
  }
  return out;
}

AnalysisStore::AnalysisStore(QObject* parent) : QObject(parent) {}

AnalysisStore::~AnalysisStore() {
  for (Job* job : m_jobs) delete job;  // cancels and waits
}

bool AnalysisStore::startable(const QString& csv) const { return !m_jobs.contains(csv) && !m_stopped.contains(csv); }

const std::vector<LayerSelectivity>* AnalysisStore::selectivity(const RunRecord& run, int limit) {
  const QString csv = analysis_path(run, selectivity_file(limit));
  if (auto it = m_selectivity.constFind(csv); it != m_selectivity.constEnd()) return &*it;
  if (QFileInfo::exists(csv)) {
    QString error;
    auto rows = read_selectivity(csv, &error);
    if (!error.isEmpty()) {
      m_stopped.insert(csv);
      Q_EMIT failed(error);
      return nullptr;
    }
    return &*m_selectivity.insert(csv, std::move(rows));
  }
  if (!startable(csv) || !run.hasCheckpoint() || !dataFound(run, csv)) return nullptr;
  const RunRecord copy = run;
  run_job(new Job(tr("selectivity of %1").arg(run.name),
                  [this, copy, limit, csv](Job& job) { compute_selectivity(copy, limit, csv, job, warner(job)); }),
          csv);
  return nullptr;
}

const std::vector<PruningPoint>* AnalysisStore::pruning(const RunRecord& run, const QString& block,
                                                        const QString& order, int limit) {
  const QString csv = analysis_path(run, pruning_file(block, order, limit));
  if (!m_jobs.contains(csv) && !m_pruning.contains(csv) && QFileInfo::exists(csv)) {
    QString error;
    auto rows = read_pruning(csv, &error);
    if (!error.isEmpty()) {
      m_stopped.insert(csv);
      Q_EMIT failed(error);
      return nullptr;
    }
    m_pruning.insert(csv, std::move(rows));
  }
  if (auto it = m_pruning.constFind(csv); it != m_pruning.constEnd()) return &*it;
  if (!startable(csv) || !run.hasCheckpoint() || !dataFound(run, csv)) return nullptr;
  const RunRecord copy = run;
  // The curve grows on the GUI thread as the job hands over each point.
  run_job(new Job(tr("pruning %1 of %2").arg(block, run.name),
                  [this, copy, block, order, limit, csv](Job& job) {
                    compute_pruning(copy, block, order, limit, csv, job, warner(job), [this, &job, csv](const PruningPoint& p) {
                      job.post([this, csv, p] {
                        m_pruning[csv].push_back(p);
                        Q_EMIT changed();
                      });
                    });
                  }),
          csv);
  return nullptr;
}

bool AnalysisStore::dataFound(const RunRecord& run, const QString& csv) {
  const QString place = QString::fromStdString(parse_data_spec(run.config.data).dir);
  if (place.isEmpty() || QFileInfo::exists(place)) return true;
  m_stopped.insert(csv);
  Q_EMIT dataMissing(run.path, place);
  return false;
}

std::function<void(const QString&)> AnalysisStore::warner(Job& job) {
  return [this, &job](const QString& text) { job.post([this, text] { Q_EMIT warned(text); }); };
}

void AnalysisStore::run_job(Job* job, const QString& csv) {
  job->setParent(this);
  m_jobs.insert(csv, job);
  m_waiting << csv;
  connect(job, &Job::finished, this, [this, job, csv](JobOutcome outcome, const QString& error) {
    m_jobs.remove(csv);
    job->deleteLater();
    if (outcome != JobOutcome::kDone) {
      m_stopped.insert(csv);
      m_pruning.remove(csv);  // a partial curve is not a result
    }
    // "selectivity of pets2: /data/pets: no such directory": which run, and what for.
    if (outcome == JobOutcome::kFailed) Q_EMIT failed(tr("%1: %2").arg(job->title(), error));
    Q_EMIT changed();
    start_next();
    if (m_jobs.isEmpty()) Q_EMIT idle();
  });
  Q_EMIT jobStarted(job);
  start_next();
}

void AnalysisStore::start_next() {
  for (Job* job : m_jobs)
    if (job->isRunning()) return;
  while (!m_waiting.isEmpty())
    if (Job* next = m_jobs.value(m_waiting.takeFirst())) {
      next->start();  // one cancelled while it waited ends at once, as cancelled
      return;
    }
}

void AnalysisStore::cancel() {
  for (Job* job : m_jobs) job->cancel();
}

void AnalysisStore::dropWaiting() {
  for (const QString& csv : std::exchange(m_waiting, {})) {
    Job* job = m_jobs.value(csv);
    if (job && job->cancelled()) m_waiting << csv;  // kept: it ends as cancelled in its turn, not asked again
    else if (job) delete m_jobs.take(csv);          // never started: nothing to stop, nothing to keep
  }
  // (No idle(): the caller asks for what it shows next, and says where things stand.)
}

void AnalysisStore::retry() { m_stopped.clear(); }

}  // namespace gex::ui
