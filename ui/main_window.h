// The main window of GE Explorer (DESIGN §5): the run browser dock, the six views, a message bar
// for errors, menus with shortcuts, and the settings that persist between sessions.
#pragma once

#include <QMainWindow>
#include <QStringList>

class QLabel;
class QTabWidget;

namespace gex::ui {

class CompareView;
class CurvesView;
class GatesView;
class PruningView;
class RunBrowser;
class RunCatalog;
class SelectivityView;
class TrainView;

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  // `runsDir` empty: the remembered folder, else ~/.local/share/ge-explorer/runs.
  explicit MainWindow(const QString& runsDir = {}, QWidget* parent = nullptr);
  ~MainWindow() override;

  // Selects a view by its name (train, curves, gates, selectivity, pruning, compare).
  bool showView(const QString& name);
  static QStringList viewNames();
  // A run directory (checked in the browser) or a checkpoint (the Gates view's model).
  bool openPath(const QString& path);
  void openImages(const QStringList& files);
  // Engine work in flight (the screenshot waits for none).
  bool isBusy() const;
  void showMessage(const QString& text);
  QString messageText() const;

  RunCatalog* catalog() const { return m_catalog; }
  RunBrowser* browser() const { return m_browser; }
  TrainView* trainView() const { return m_train; }
  CurvesView* curvesView() const { return m_curves; }
  GatesView* gatesView() const { return m_gates; }
  SelectivityView* selectivityView() const { return m_selectivity; }
  PruningView* pruningView() const { return m_pruning; }
  CompareView* compareView() const { return m_compare; }

  // Where the shipped default runs and sample images are (installed or in the source tree).
  static QString resourceDirectory();

 protected:
  void closeEvent(QCloseEvent* e) override;

 private:
  void buildMenus();
  void chooseRunsDirectory();
  void addRecent(const QString& path);
  RunCatalog* m_catalog;
  RunBrowser* m_browser;
  QTabWidget* m_views;
  TrainView* m_train;
  CurvesView* m_curves;
  GatesView* m_gates;
  SelectivityView* m_selectivity;
  PruningView* m_pruning;
  CompareView* m_compare;
  QWidget* m_messageBar;
  QLabel* m_messageText;
  class QMenu* m_recent;
};

}  // namespace gex::ui
