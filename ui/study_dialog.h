// "Start study…": which variants, how many seeds and which folder; the rest of the run's settings
// are the Train view's form. The study is `gex study` (DESIGN §6): each variant trained with seeds
// 1 … K, resumable by starting the same study again.
#pragma once

#include <QDialog>
#include <QStringList>

class QCheckBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace gex::ui {

class StudyDialog : public QDialog {
  Q_OBJECT

 public:
  // `extent`: the form's extent ("global", "4", …), which the GE variants take.
  StudyDialog(const QString& runsDir, const QString& extent, QWidget* parent = nullptr);
  QStringList variants() const;  // gex study's names: baseline, se, theta-minus, theta, theta-plus
  int seeds() const;
  QString directory() const;
  void setVariants(const QStringList& names);
  void setSeeds(int seeds);
  void setDirectory(const QString& dir);
  QString folderNote() const;  // what the dialog says of the folder
  bool canStart() const;       // whether Start study is enabled

 private:
  void validate();
  // "…" beside the folder: the chooser opens where the folder is (or would be).
  void chooseFolder();
  QList<QPair<QString, QCheckBox*>> m_variants;
  QSpinBox* m_seeds;
  QLineEdit* m_dir;
  QPushButton* m_ok = nullptr;
  QLabel* m_note = nullptr;  // a new study, the one in the folder continued, or a folder not to use
};

}  // namespace gex::ui
