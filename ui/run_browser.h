// The run browser dock: every run of the catalog with its colour, model, status and best error; a
// checkbox overlays a run in the plots; the context menu resumes, opens or deletes a run (Delete
// moves it to the desktop trash, with Undo) and checks or unchecks all runs shown. A study's runs
// sit under it, one expandable group per variant whose checkbox overlays the group's mean and
// spread. A filter field above narrows the list to runs whose name, model (also as gex's flags
// spell it: ge theta-minus global), data, or status hold every word typed; a study's run also by
// its study's and variant's names.
#pragma once

#include <QSet>
#include <QWidget>

#include "message_bar.h"

class QLabel;
class QLineEdit;
class QTreeWidget;
class QTreeWidgetItem;

namespace gex::ui {

class RunCatalog;

class RunBrowser : public QWidget {
  Q_OBJECT

 public:
  RunBrowser(RunCatalog* catalog, QWidget* parent = nullptr);

  QStringList checkedRuns() const;    // in list order
  QStringList checkedGroups() const;  // RunGroup keys, in list order
  // A run's path or a group's key.
  void setChecked(const QString& pathOrGroup, bool checked);
  QString currentRun() const;
  void setCurrentRun(const QString& path);
  // Moves the run to the trash (never deletes it); the message offers Undo. False with a message
  // when it is shipped, being trained, or cannot be moved.
  bool trashRun(const QString& path);
  // Puts a trashed run back where it was.
  bool restoreRun(const QString& original, const QString& inTrash);
  // The filter field's words; runs that hold them all stay listed (checked ones stay drawn).
  void setFilter(const QString& words);
  QString filter() const;
  void focusFilter();
  // Under the filter: how many runs it lists of how many, or that it lists none; empty without a filter.
  QString filterHint() const;
  // Checks every run and group the filter leaves listed, or unchecks every one.
  void checkShown();
  void uncheckAll();

 Q_SIGNALS:
  void checkedRunsChanged();
  void currentRunChanged(const QString& path);
  void resumeRequested(const QString& path);
  void changeDirectoryRequested();
  void message(const QString& text, gex::ui::MessageKind kind = gex::ui::MessageKind::kError);
  // A run went to the trash: the main window offers Undo (restoreRun).
  void runTrashed(const QString& original, const QString& inTrash);

 protected:
  void resizeEvent(QResizeEvent* event) override;
  // The list's viewport resized: no column wider than the panel shows (a longer name elided in
  // the middle, where a run's name from the Train view keeps its model and its time at the ends).
  bool eventFilter(QObject* watched, QEvent* event) override;

 private:
  void rebuild();
  // The runs folder in the label above the list: home as ~, the middle elided to the label's width.
  void showFolder();
  void update(const QString& path);
  void fill(QTreeWidgetItem* item, const QString& path);
  void fillGroup(QTreeWidgetItem* item, const QString& key);
  QTreeWidgetItem* addRunItem(QTreeWidgetItem* parent, const QString& path, const QString& current);
  void showMenu(const QPoint& pos);
  // Hides the items the filter's words leave out; a study or group shows while any run in it does.
  void applyFilter();
  void showFilterHint();
  RunCatalog* m_catalog;
  QTreeWidget* m_tree;
  QLabel* m_folder;
  QLineEdit* m_filter;
  QLabel* m_filterHint;
  QSet<QString> m_checked;        // run paths and group keys
  QSet<QString> m_expandedGroups;  // kept across rebuilds
  bool m_filling = false;
};

}  // namespace gex::ui
