#include "model_info.h"

#include <QComboBox>

#include <memory>

#include "error_message.h"
#include "job.h"
#include "models/registry.h"

namespace gex::ui {

ModelInfo model_info(const ModelSpec& spec) {
  ModelInfo info;
  try {
    auto net = build_network(spec);
    const auto c = measure_complexity(*net);
    info.params = c.params;
    info.macs = c.macs;
    for (const auto& [path, block] : net->blocks()) {
      const QString p = QString::fromStdString(path);
      info.blocks << p;
      const QString stage = p.section(QLatin1Char('.'), 0, 0);
      if (p.contains(QLatin1Char('.')) && !info.stages.contains(stage)) info.stages << stage;
    }
  } catch (const std::exception& e) {
    info.error = QString::fromStdString(error_message(e));
  }
  return info;
}

bool set_block_choices(QComboBox* box, const QStringList& names) {
  QStringList present;
  for (int i = 0; i < box->count(); ++i) present << box->itemText(i);
  if (present == names) return false;
  const QString current = box->currentText();
  QSignalBlocker block(box);
  box->clear();
  box->addItems(names);
  const int i = box->findText(current);
  box->setCurrentIndex(i >= 0 ? i : box->count() - 1);
  return true;
}

ModelInfoCache::ModelInfoCache(QObject* parent) : QObject(parent) {}

ModelInfoCache::~ModelInfoCache() {
  for (Job* job : m_pending) delete job;  // cancels and waits
}

const ModelInfo* ModelInfoCache::get(const ModelSpec& spec) {
  const QString key = QString::fromStdString(spec.to_json());
  if (auto it = m_known.constFind(key); it != m_known.constEnd()) return &*it;
  if (m_pending.contains(key)) return nullptr;
  auto result = std::make_shared<ModelInfo>();
  auto* job = new Job(tr("model %1").arg(QString::fromStdString(spec.describe())),
                      [spec, result](Job&) { *result = model_info(spec); }, this);
  m_pending.insert(key, job);
  connect(job, &Job::finished, this, [this, job, key, result](JobOutcome, const QString& error) {
    if (!error.isEmpty() && result->error.isEmpty()) result->error = error;
    m_known.insert(key, *result);
    m_pending.remove(key);
    job->deleteLater();
    Q_EMIT ready();
  });
  job->start();
  return nullptr;
}

}  // namespace gex::ui
