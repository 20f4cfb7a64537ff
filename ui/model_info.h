// What the views show about a model spec — parameters, MACs, residual blocks and stages — worked
// out once per spec in a Job (building a ResNet-152 takes a second) and cached, so no view
// builds a network on the GUI thread.
#pragma once

#include <QHash>
#include <QObject>
#include <QStringList>

#include "models/model_spec.h"

class QComboBox;

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

// Fills a block chooser with `names` (stages, then blocks), keeping the chosen one when it is
// still there, else the last block — where GE-SPEC's pruning study looks first. Emits no
// signal; false when the list was already this one.
bool set_block_choices(QComboBox* box, const QStringList& names);

}  // namespace gex::ui
