// What the views show about a model spec — parameters, MACs, residual blocks and stages — worked
// out once per spec in a Job (building a ResNet-152 takes a second) and cached, so no view
// builds a network on the GUI thread.
#pragma once

#include <QHash>
#include <QObject>
#include <QStringList>

#include "models/model_spec.h"

namespace gex::ui {

struct ModelInfo {
  int64_t params = 0, macs = 0;
  QStringList stages, blocks;  // "layer1", …; "layer1.0", … in depth order
  QString error;               // the spec could not be built
};

class ModelInfoCache : public QObject {
  Q_OBJECT

 public:
  explicit ModelInfoCache(QObject* parent = nullptr);
  ~ModelInfoCache() override;

  // The info of `spec`, or nullptr while it is being worked out (ready() follows).
  const ModelInfo* get(const ModelSpec& spec);
  bool isBusy() const { return !m_pending.isEmpty(); }

 Q_SIGNALS:
  void ready();

 private:
  QHash<QString, ModelInfo> m_known;
  QHash<QString, class Job*> m_pending;
};

// Works out the info here, on the calling thread (what the cache's jobs run).
ModelInfo model_info(const ModelSpec& spec);

}  // namespace gex::ui
