// File → Import weights…: what `gex import` asks, as a form. The dialog only collects and checks
// the choices; the import itself runs as a job in the Gates view, which then shows the model.
#pragma once

#include <QDialog>

#include "train/import_weights.h"

class QComboBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace gex::ui {

class ImportDialog : public QDialog {
  Q_OBJECT

 public:
  // `runsDirectory`: where the checkpoint goes by default (`<runs>/imported/<file>-<backbone>.safetensors`).
  ImportDialog(const QString& runsDirectory, QWidget* parent = nullptr);

  void setSource(const QString& file);
  ImportOptions options() const;
  QString output() const;
  // Why the form cannot be imported as it is (empty when it can).
  QString problem() const;

  void accept() override;

 private:
  void suggestOutput();
  QString m_runsDirectory;
  QLineEdit *m_from, *m_out, *m_classNames;
  QComboBox *m_backbone, *m_attention, *m_variant, *m_extent, *m_strideOn;
  QSpinBox *m_classes, *m_inputSize;
  QLabel* m_problem;
};

}  // namespace gex::ui
