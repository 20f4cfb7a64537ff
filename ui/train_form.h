// The Train view's form: the model, the data and the schedule of a run, with the parameter and MAC
// count as it changes. Rows that do not apply to the chosen model are hidden or disabled; the
// last form started is remembered across sessions.
#pragma once

#include <QString>
#include <QWidget>

#include "message_bar.h"
#include "train/train_config.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QSpinBox;
class QTimer;

namespace gex::ui {

class ModelInfoCache;
class RunCatalog;
class StartFromPicker;

// The Data field's text for a folder picked with `…`: cifar10:, cifar100: or idx: by the files in
// it, else folder:.
QString data_for_folder(const QString& dir);

class TrainForm : public QWidget {
  Q_OBJECT

 public:
  TrainForm(RunCatalog* catalog, ModelInfoCache* models, QWidget* parent = nullptr);

  TrainConfig config() const;
  void setConfig(const TrainConfig& config);
  int processes() const;  // data-parallel workers asked for (gex train --nproc)
  QString complexityText() const;
  // The model's size and cost, or what is wrong with the form: not in the form's own layout, so
  // that the view can keep it in sight by its Start button.
  QLabel* summaryLabel() const { return m_complexity; }
  // Saves `config` as the form the next session opens with.
  static void remember(const TrainConfig& config);
  // Why the form saved last time could not be restored (empty when it was, or there was none).
  const QString& restoreProblem() const { return m_restoreProblem; }

 Q_SIGNALS:
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);

 private:
  void build();
  void setToolTips();
  void connectForm();
  void restore();
  void chooseDataFolder();
  void applyStartFrom();
  void updateRows();
  void updateComplexity();
  RunCatalog* m_catalog;
  ModelInfoCache* m_models;
  QFormLayout* m_form = nullptr;
  QComboBox *m_backbone, *m_attention, *m_variant, *m_extent, *m_pool, *m_strideOn, *m_schedule, *m_device;
  StartFromPicker* m_startFrom = nullptr;
  QCheckBox *m_freeze, *m_syncBn, *m_probes;
  QLineEdit* m_data;
  QSpinBox *m_epochs, *m_steps, *m_batch, *m_seed, *m_threads, *m_processes;
  QDoubleSpinBox *m_lr, *m_wd;
  QLabel* m_complexity;
  QTimer* m_debounce = nullptr;
  QString m_restoreProblem;
};

}  // namespace gex::ui
