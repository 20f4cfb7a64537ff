// The Train view's "Start from": scratch, a run's best checkpoint, or a checkpoint file (weights
// brought in with gex import, or any run's), the last chosen by a file dialog.
#pragma once

#include <QComboBox>
#include <QStringList>

namespace gex::ui {

class RunCatalog;

class StartFromPicker : public QComboBox {
  Q_OBJECT

 public:
  StartFromPicker(RunCatalog* catalog, QWidget* parent);

  // The checkpoint to start from; empty for scratch.
  QString path() const;
  // Selects `path` (a file not listed yet is added when it exists); empty selects scratch.
  void setPath(const QString& path);

 Q_SIGNALS:
  // The user picked an item (after the file dialog of "a checkpoint…", if that was it).
  void picked();

 private:
  void refresh();
  void onActivated(int index);
  RunCatalog* m_catalog;
  QStringList m_files;  // checkpoint files chosen this session
};

}  // namespace gex::ui
