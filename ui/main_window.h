// The main window of GE Explorer (DESIGN §5): the run browser dock, the six views, a message bar
// with kinds and a history, menus with shortcuts, drag and drop, training progress in the title
// and the status bar, and the settings that persist between sessions.
#pragma once

#include <QMainWindow>
#include <QStringList>

#include <functional>

#include "message_bar.h"

class QDockWidget;
class QLabel;
class QListWidget;
class QMenu;
class QProgressBar;
class QTabWidget;

namespace gex::ui {

class CompareView;
class CurvesView;
class GatesView;
class ModelInfoCache;
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
  QString currentView() const;
  static QStringList viewNames();
  // A run directory (or its run.json: checked in the browser), a checkpoint (the Gates view's
  // model) or weights another program saved (File → Import weights… opens on them); false with a
  // message otherwise. Each open (this, openPaths, File → Open images…) first takes away the
  // message of an earlier open that failed: it is about a file no longer in question.
  bool openPath(const QString& path);
  // File → Import weights…, with `from` as the file to import when given.
  void importWeights(const QString& from);
  void openImages(const QStringList& files);
  // What a drop or the command line gives: runs, checkpoints and images in any mix. Images go to
  // the Gates view. False when any could not be opened (each has its message).
  bool openPaths(const QStringList& paths);
  // Engine work in flight (the screenshot waits for none).
  bool isBusy() const;
  void showMessage(const QString& text, MessageKind kind = MessageKind::kError, const QString& actionText = {},
                   std::function<void()> action = nullptr);
  QString messageText() const;
  MessageBar* messageBar() const { return m_messages; }

  RunCatalog* catalog() const { return m_catalog; }
  RunBrowser* browser() const { return m_browser; }
  QDockWidget* runsDock() const { return m_runsDock; }
  TrainView* trainView() const { return m_train; }
  CurvesView* curvesView() const { return m_curves; }
  GatesView* gatesView() const { return m_gates; }
  SelectivityView* selectivityView() const { return m_selectivity; }
  PruningView* pruningView() const { return m_pruning; }
  CompareView* compareView() const { return m_compare; }
  QString trainingStatus() const;  // the status bar's permanent item

  // Where the shipped default runs and sample images are: beside the executable (an installed
  // or unpacked package, or the build tree), or GEX_RESOURCE_DIR.
  static QString resourceDirectory();

  // Quits as File → Quit does, without asking: a training run saves `last` and stops first.
  // For a signal (the session ending, `kill`), where nobody is there to answer.
  void quitWithoutAsking();

 protected:
  void closeEvent(QCloseEvent* e) override;
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  void buildViews();
  void buildDocks();
  void buildMenus();
  void buildStatusBar();
  void connectViews();
  void openDefaults();
  void restoreSettings(const QString& runsDir);
  void onTrainingProgress(double fraction, const QString& run);
  // An analysis view could not measure `run`: its data is not at `place`. Offers Locate…, which
  // asks where it is now and records that for every run that read it there (a study's).
  void offerToLocateData(const QString& run, const QString& place);
  void locateData(const QString& run);
  void chooseRunsDirectory();
  void addRecent(const QString& path);
  bool openOne(const QString& path);  // openPath's work, without dismissing the earlier message
  void showOpenError(const QString& text);
  void dismissOpenError();
  RunCatalog* m_catalog;
  ModelInfoCache* m_models;
  RunBrowser* m_browser = nullptr;
  QDockWidget* m_runsDock = nullptr;
  QDockWidget* m_messagesDock = nullptr;
  QString m_openError;  // the last failed open's message, while it may still show
  bool m_syncingTimelines = false;  // one step for every view's timeline
  QTabWidget* m_views = nullptr;
  TrainView* m_train = nullptr;
  CurvesView* m_curves = nullptr;
  GatesView* m_gates = nullptr;
  SelectivityView* m_selectivity = nullptr;
  PruningView* m_pruning = nullptr;
  CompareView* m_compare = nullptr;
  MessageBar* m_messages = nullptr;
  QLabel* m_trainingLabel = nullptr;
  QProgressBar* m_trainingBar = nullptr;
  QMenu* m_recent = nullptr;
  QString m_checkWhenSeen;  // a run just started: checked once the catalog sees it
  bool m_quitWithoutAsking = false;
};

}  // namespace gex::ui
