// The run browser dock: every run of the catalog with its model, status and best error; a checkbox
// overlays a run in the plots; the context menu resumes, opens or deletes a run.
#pragma once

#include <QSet>
#include <QWidget>

class QLabel;
class QTreeWidget;
class QTreeWidgetItem;

namespace gex::ui {

class RunCatalog;

class RunBrowser : public QWidget {
  Q_OBJECT

 public:
  RunBrowser(RunCatalog* catalog, QWidget* parent = nullptr);

  QStringList checkedRuns() const;  // in list order
  void setChecked(const QString& path, bool checked);
  QString currentRun() const;
  void setCurrentRun(const QString& path);

 Q_SIGNALS:
  void checkedRunsChanged();
  void currentRunChanged(const QString& path);
  void resumeRequested(const QString& path);
  void changeDirectoryRequested();
  void message(const QString& text);

 private:
  void rebuild();
  void update(const QString& path);
  void fill(QTreeWidgetItem* item, const QString& path);
  void showMenu(const QPoint& pos);
  RunCatalog* m_catalog;
  QTreeWidget* m_tree;
  QLabel* m_folder;
  QSet<QString> m_checked;
  bool m_filling = false;
};

}  // namespace gex::ui
