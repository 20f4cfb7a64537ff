#include "main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDialog>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QScreen>
#include <QScrollArea>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

#include <array>

#include "compare_view.h"
#include "curves_view.h"
#include "data_relocation.h"
#include "data/dataset.h"
#include "errors.h"
#include "gate_filmstrip.h"
#include "gates_view.h"
#include "help_dialogs.h"
#include "import_dialog.h"
#include "io/image.h"
#include "job.h"
#include "model_info.h"
#include "plural.h"
#include "probe_timeline.h"
#include "pruning_view.h"
#include "qcp.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "train/checkpoint.h"
#include "train_view.h"
#include "window_geometry.h"

namespace gex::ui {

namespace {

QWidget* scrollable(QWidget* view) {
  // A view taller or wider than a small window scrolls instead of forcing the window's size.
  auto* area = new QScrollArea;
  area->setWidget(view);
  area->setWidgetResizable(true);
  area->setFrameShape(QFrame::NoFrame);
  return area;
}

bool is_run_directory(const QFileInfo& info) { return info.isDir() && QFileInfo::exists(info.filePath() + QStringLiteral("/run.json")); }
bool is_study_directory(const QFileInfo& info) { return info.isDir() && QFileInfo::exists(info.filePath() + QStringLiteral("/study.json")); }

}  // namespace

QStringList MainWindow::viewNames() {
  return {QStringLiteral("train"),       QStringLiteral("curves"),  QStringLiteral("gates"),
          QStringLiteral("selectivity"), QStringLiteral("pruning"), QStringLiteral("compare")};
}

QString MainWindow::resourceDirectory() {
  const QStringList candidates = {qEnvironmentVariable("GEX_RESOURCE_DIR"),
                                  QApplication::applicationDirPath() + QStringLiteral("/../share/ge-explorer")};
  for (const QString& dir : candidates)
    if (!dir.isEmpty() && QFileInfo::exists(dir + QStringLiteral("/default-runs"))) return QDir(dir).canonicalPath();
  return {};
}

MainWindow::MainWindow(const QString& runsDir, QWidget* parent)
    : QMainWindow(parent), m_catalog(new RunCatalog(this)), m_models(new ModelInfoCache(this)) {
  setWindowTitle(QStringLiteral("GE Explorer"));
  setWindowIcon(QIcon(resourceDirectory() + QStringLiteral("/icons/ge-explorer.svg")));
  setAcceptDrops(true);
  const QString resources = resourceDirectory();
  if (!resources.isEmpty()) m_catalog->setShippedDirectory(resources + QStringLiteral("/default-runs"));
  buildViews();
  buildDocks();
  buildMenus();
  buildStatusBar();
  connectViews();
  restoreSettings(runsDir);
  openDefaults();
}

MainWindow::~MainWindow() = default;

void MainWindow::buildViews() {
  m_views = new QTabWidget(this);
  m_views->setDocumentMode(true);
  m_train = new TrainView(m_catalog, m_models);
  m_curves = new CurvesView(m_catalog);
  m_gates = new GatesView(m_catalog);
  m_selectivity = new SelectivityView(m_catalog);
  m_pruning = new PruningView(m_catalog, m_models);
  m_compare = new CompareView(m_catalog, m_models);
  // The analysis views share one step: moving one timeline moves the others (and the filmstrip).
  const std::array<ProbeTimeline*, 3> timelines = {m_selectivity->timeline(), m_pruning->timeline(),
                                                   m_compare->timeline()};
  for (auto* timeline : timelines)
    connect(timeline, &ProbeTimeline::moved, this, [this, timeline, timelines](qint64 step) {
      if (m_syncingTimelines) return;
      m_syncingTimelines = true;
      for (auto* other : timelines)
        if (other != timeline) other->setCurrentStep(step);
      m_gates->filmstrip()->setCurrentStep(step);
      m_syncingTimelines = false;
    });
  m_views->addTab(scrollable(m_train), tr("&Train"));
  m_views->addTab(scrollable(m_curves), tr("&Curves"));
  m_views->addTab(scrollable(m_gates), tr("&Gates"));
  m_views->addTab(scrollable(m_selectivity), tr("&Selectivity"));
  m_views->addTab(scrollable(m_pruning), tr("&Pruning"));
  m_views->addTab(scrollable(m_compare), tr("C&ompare"));
  m_messages = new MessageBar(this);
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_messages);
  layout->addWidget(m_views, 1);
  setCentralWidget(central);
}

void MainWindow::buildDocks() {
  m_browser = new RunBrowser(m_catalog, this);
  m_runsDock = new QDockWidget(tr("Runs"), this);
  m_runsDock->setObjectName(QStringLiteral("runs"));
  m_runsDock->setWidget(m_browser);
  addDockWidget(Qt::LeftDockWidgetArea, m_runsDock);
  // Recent messages, newest first: what the message bar said before it was replaced or closed.
  m_messagesDock = new QDockWidget(tr("Messages"), this);
  m_messagesDock->setObjectName(QStringLiteral("messages"));
  m_messagesDock->setWidget(new MessageHistory(m_messages, this));
  addDockWidget(Qt::BottomDockWidgetArea, m_messagesDock);
  m_messagesDock->hide();
}

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &run, study or checkpoint…"), QKeySequence::Open, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("A run's run.json, a study's study.json or a checkpoint"),
                                                      QSettings().value(QStringLiteral("dirs/open")).toString(),
                                                      tr("Runs, studies and checkpoints (run.json study.json *.safetensors)"));
    if (path.isEmpty()) return;
    QSettings().setValue(QStringLiteral("dirs/open"), QFileInfo(path).absolutePath());
    openPath(path);
  });
  file->addAction(tr("Open &images…"), QKeySequence(QStringLiteral("Ctrl+I")), this, [this] {
    const QStringList files =
        QFileDialog::getOpenFileNames(this, tr("Images"), QSettings().value(QStringLiteral("dirs/images")).toString());
    if (files.isEmpty()) return;
    QSettings().setValue(QStringLiteral("dirs/images"), QFileInfo(files.front()).absolutePath());  // as the Gates view's button
    dismissOpenError();
    openImages(files);
  });
  file->addAction(tr("Import &weights…"), this, [this] { importWeights({}); });
  m_recent = file->addMenu(tr("Open &recent"));
  connect(m_recent, &QMenu::aboutToShow, this, [this] {
    m_recent->clear();
    for (const QString& p : QSettings().value(QStringLiteral("recent")).toStringList())
      m_recent->addAction(p, this, [this, p] { openPath(p); });
    if (m_recent->isEmpty()) m_recent->addAction(tr("(none yet)"))->setEnabled(false);
  });
  file->addAction(tr("Runs &folder…"), this, &MainWindow::chooseRunsDirectory);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < m_views->count(); ++i)
    view->addAction(m_views->tabText(i).remove(QLatin1Char('&')), QKeySequence(QStringLiteral("Ctrl+%1").arg(i + 1)),
                    this, [this, i] { m_views->setCurrentIndex(i); });
  view->addSeparator();
  // Every dock can be brought back after it was closed.
  QAction* runs = m_runsDock->toggleViewAction();
  runs->setText(tr("&Runs panel"));
  runs->setShortcut(QKeySequence(QStringLiteral("Ctrl+R")));
  view->addAction(runs);
  view->addAction(tr("&Filter runs"), QKeySequence::Find, this, [this] {
    m_runsDock->show();
    m_browser->focusFilter();
  });
  QAction* messages = m_messagesDock->toggleViewAction();
  messages->setText(tr("Recent &messages"));
  messages->setShortcut(QKeySequence(QStringLiteral("Ctrl+M")));
  view->addAction(messages);

  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Keyboard shortcuts"), this, [this] { show_shortcuts(this, menuBar()); });
  help->addSeparator();
  help->addAction(tr("&About GE Explorer"), this, [this] { show_about(this); });
  help->addAction(tr("About &Qt"), qApp, &QApplication::aboutQt);
}

void MainWindow::buildStatusBar() {
  m_trainingLabel = new QLabel(this);
  m_trainingBar = new QProgressBar(this);
  m_trainingBar->setRange(0, 1000);
  m_trainingBar->setMaximumWidth(140);
  m_trainingBar->setTextVisible(false);
  m_trainingBar->setAccessibleName(tr("Training progress"));
  m_trainingLabel->hide();
  m_trainingBar->hide();
  statusBar()->addPermanentWidget(m_trainingLabel);
  statusBar()->addPermanentWidget(m_trainingBar);
}

void MainWindow::connectViews() {
  const auto messagesFrom = [this](auto* source) {
    connect(source, &std::remove_pointer_t<decltype(source)>::message, this,
            [this](const QString& text, MessageKind kind) { showMessage(text, kind); });
  };
  messagesFrom(m_browser);
  messagesFrom(m_train);
  messagesFrom(m_curves);
  messagesFrom(m_gates);
  messagesFrom(m_selectivity);
  messagesFrom(m_pruning);
  messagesFrom(m_compare);
  connect(m_selectivity, &SelectivityView::dataMissing, this, &MainWindow::offerToLocateData);
  connect(m_pruning, &PruningView::dataMissing, this, &MainWindow::offerToLocateData);
  connect(m_compare, &CompareView::dataMissing, this, &MainWindow::offerToLocateData);
  connect(m_browser, &RunBrowser::checkedRunsChanged, this, [this] {
    const QStringList runs = m_browser->checkedRuns();
    m_curves->setRuns(runs);
    m_curves->setGroups(m_browser->checkedGroups());
    // The analysis views pool a checked group's runs; the study's groups first, as in the browser.
    m_selectivity->setRuns(m_browser->checkedGroups() + runs);
    m_pruning->setRuns(m_browser->checkedGroups() + runs);
    QSettings().setValue(QStringLiteral("checkedRuns"), runs + m_browser->checkedGroups());
  });
  connect(m_browser, &RunBrowser::currentRunChanged, m_train, &TrainView::setSelectedRun);
  // In the Gates view the run picked in the browser is the one looked at (model A).
  connect(m_browser, &RunBrowser::currentRunChanged, this, [this](const QString& run) {
    const RunRecord* r = m_catalog->find(run);
    if (currentView() == QLatin1String("gates") && r && r->hasCheckpoint() && m_gates->modelAt(0) != r->bestCheckpoint())
      m_gates->setModel(r->bestCheckpoint(), 0);
  });
  connect(m_browser, &RunBrowser::resumeRequested, this, [this](const QString& run) {
    showView(QStringLiteral("train"));
    m_train->resume(run);
  });
  connect(m_browser, &RunBrowser::changeDirectoryRequested, this, &MainWindow::chooseRunsDirectory);
  connect(m_browser, &RunBrowser::runTrashed, this, [this](const QString& original, const QString& inTrash) {
    showMessage(tr("Moved %1 to the trash").arg(QFileInfo(original).fileName()), MessageKind::kInformation, tr("Undo"),
                [this, original, inTrash] { m_browser->restoreRun(original, inTrash); });
  });
  connect(m_train, &TrainView::runStarted, this, [this](const QString& dir) { m_checkWhenSeen = dir; });
  connect(m_catalog, &RunCatalog::runsChanged, this, [this] {
    // A run started here is checked once the catalog has it; a study's run checks its variant's
    // group (drawn as the seeds' mean and spread, as the study's groups are meant to be seen).
    const RunRecord* r = m_checkWhenSeen.isEmpty() ? nullptr : m_catalog->find(m_checkWhenSeen);
    if (!r) return;
    m_checkWhenSeen.clear();
    m_browser->setChecked(r->study.isEmpty() ? r->path : r->study + QLatin1Char('/') + r->variant, true);
  });
  connect(m_train, &TrainView::progressChanged, this, &MainWindow::onTrainingProgress);
  connect(m_views, &QTabWidget::currentChanged, this, [this](int i) {
    QSettings().setValue(QStringLiteral("view"), i);
    for (auto* plot : m_views->widget(i)->findChildren<QCustomPlot*>()) plot->replot(QCustomPlot::rpQueuedReplot);
  });
}

// The settings of the last session; what cannot be read is said, and the default taken.
void MainWindow::restoreSettings(const QString& runsDir) {
  QSettings settings;
  if (settings.status() != QSettings::NoError)
    showMessage(tr("The settings file %1 could not be read; GE Explorer starts with its defaults").arg(settings.fileName()),
                MessageKind::kWarning);
  const QString defaultRuns =
      QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/ge-explorer/runs");
  const QString chosen = !runsDir.isEmpty() ? runsDir : settings.value(QStringLiteral("runsDirectory"), defaultRuns).toString();
  if (const QString problem = m_catalog->setRunsDirectory(chosen); !problem.isEmpty()) {
    // A folder of the last session that is gone (an unmounted share): the default, said so.
    showMessage(tr("%1; using %2").arg(problem, defaultRuns), MessageKind::kWarning);
    m_catalog->setRunsDirectory(defaultRuns);
  }
  if (!m_train->restoreProblem().isEmpty()) showMessage(m_train->restoreProblem(), MessageKind::kWarning);
  // First start: 90 % of the screen at most, centred; later starts: where the window was.
  const QRect screen = this->screen()->availableGeometry();
  resize(std::min(1400, int(screen.width() * 0.9)), std::min(860, int(screen.height() * 0.9)));
  move(screen.center() - rect().center());
  resizeDocks({m_runsDock}, {std::clamp(width() / 5, 220, 340)}, Qt::Horizontal);
  // Not offscreen (--screenshot, tests): its one 800×600 screen refuses a desktop's geometry, and
  // the picture is rendered at a fixed size whatever the last session's window was.
  const bool offscreen = QGuiApplication::platformName() == QLatin1String("offscreen");
  const QByteArray geometry = offscreen ? QByteArray() : settings.value(QStringLiteral("geometry")).toByteArray();
  // A geometry from a screen of another size is no problem: the default size fits this one.
  if (!geometry.isEmpty() && restore_window_geometry(*this, geometry) == GeometryRestore::kUnreadable)
    showMessage(tr("The saved window geometry could not be read; the window opens at its default size"), MessageKind::kWarning);
  const QByteArray state = settings.value(QStringLiteral("state")).toByteArray();
  if (!state.isEmpty() && !restoreState(state))
    showMessage(tr("The saved panel layout could not be read; the panels are where they start"), MessageKind::kWarning);
  bool ok = true;
  const QVariant view = settings.value(QStringLiteral("view"), 1);
  const int index = view.toInt(&ok);
  if (!ok || index < 0 || index >= m_views->count())
    showMessage(tr("The saved view ('%1') is not one of the views; showing Curves").arg(view.toString()), MessageKind::kWarning);
  m_views->setCurrentIndex(ok && index >= 0 && index < m_views->count() ? index : 1);
  statusBar()->showMessage(tr("Runs folder: %1").arg(m_catalog->runsDirectory()));
}

// First start: the shipped runs overlaid and the sample images ready, so every view has content.
void MainWindow::openDefaults() {
  const QStringList checked = QSettings().value(QStringLiteral("checkedRuns")).toStringList();
  bool any = false;
  for (const QString& p : checked)
    if (m_catalog->find(p) || m_catalog->findGroup(p)) m_browser->setChecked(p, true), any = true;
  if (!any) {  // the shipped runs; a shipped study as its groups
    for (const auto& r : m_catalog->runs())
      if (r.shipped && r.study.isEmpty()) m_browser->setChecked(r.path, true);
    for (const auto& g : m_catalog->groups())
      if (g.shipped) m_browser->setChecked(g.key, true);
  }
  const QString resources = resourceDirectory();
  if (!resources.isEmpty()) {
    QStringList samples;
    for (const QFileInfo& f : QDir(resources + QStringLiteral("/samples")).entryInfoList(QDir::Files, QDir::Name))
      samples << f.filePath();
    m_gates->addImages(samples);
  }
  QString baseline, ge;
  for (const auto& g : m_catalog->groups()) {  // a shipped study: its baseline against its first GE variant
    const auto runs = m_catalog->runsOf(g);
    if (!g.shipped || runs.empty()) continue;
    if (runs.front()->config.model.attention == AttentionKind::kNone) baseline = g.key;
    else if (ge.isEmpty()) ge = g.key;
  }
  for (const auto& r : m_catalog->runs()) {
    if (!r.shipped || !r.study.isEmpty() || (!baseline.isEmpty() && !ge.isEmpty())) continue;
    if (r.config.model.attention == AttentionKind::kNone) baseline = r.path;
    else if (ge.isEmpty()) ge = r.path;
  }
  // The pair the user picked last time, where it still exists.
  const auto known = [this](const QString& p) { return !p.isEmpty() && (m_catalog->find(p) || m_catalog->findGroup(p)); };
  const QString lastBaseline = QSettings().value(QStringLiteral("compare/baseline")).toString();
  const QString lastGe = QSettings().value(QStringLiteral("compare/ge")).toString();
  if (known(lastBaseline) && known(lastGe)) baseline = lastBaseline, ge = lastGe;
  if (!baseline.isEmpty() && !ge.isEmpty()) m_compare->setPair(baseline, ge);
}

void MainWindow::chooseRunsDirectory() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Runs folder"), m_catalog->runsDirectory());
  if (dir.isEmpty()) return;
  if (const QString problem = m_catalog->setRunsDirectory(dir); !problem.isEmpty()) {
    showMessage(problem);
    return;
  }
  QSettings().setValue(QStringLiteral("runsDirectory"), dir);
  statusBar()->showMessage(tr("Runs folder: %1").arg(dir));
}

void MainWindow::addRecent(const QString& path) {
  QSettings settings;
  QStringList recent = settings.value(QStringLiteral("recent")).toStringList();
  recent.removeAll(path);
  recent.prepend(path);
  settings.setValue(QStringLiteral("recent"), recent.mid(0, 10));
}

bool MainWindow::showView(const QString& name) {
  const int index = viewNames().indexOf(name);
  if (index < 0) return false;
  m_views->setCurrentIndex(index);
  return true;
}

QString MainWindow::currentView() const { return viewNames().value(m_views->currentIndex()); }

void MainWindow::importWeights(const QString& from) {
  // Not modal to the application's loop (open(), not exec()): a file dropped on the window or given
  // on the command line opens it without holding up what else was opened with it.
  auto* dialog = new ImportDialog(m_catalog->runsDirectory(), this);
  dialog->setAttribute(Qt::WA_DeleteOnClose);
  if (!from.isEmpty()) dialog->setSource(from);
  connect(dialog, &QDialog::accepted, this, [this, dialog] {
    showView(QStringLiteral("gates"));
    m_gates->importWeights(dialog->options(), dialog->output());
  });
  dialog->open();
}

void MainWindow::showOpenError(const QString& text) {
  m_openError = text;
  showMessage(text);
}

void MainWindow::dismissOpenError() {
  if (!m_openError.isEmpty() && m_messages->text() == m_openError) m_messages->hide();
  m_openError.clear();
}

bool MainWindow::openPath(const QString& path) {
  dismissOpenError();
  return openOne(path);
}

bool MainWindow::openOne(const QString& path) {
  QFileInfo info(path);
  if (info.isFile() && (info.fileName() == QLatin1String("run.json") || info.fileName() == QLatin1String("study.json")))
    info = QFileInfo(info.absolutePath());
  if (info.isFile() && is_foreign_weights(info.filePath().toStdString())) {
    importWeights(info.absoluteFilePath());
    return true;
  }
  if (info.isDir()) {
    QString error;
    if (!m_catalog->addRun(info.absoluteFilePath(), &error)) {
      showOpenError(error);
      return false;
    }
    if (is_study_directory(info)) {  // each variant's group checked
      for (const RunGroup& g : m_catalog->groups())
        if (g.study == info.canonicalFilePath()) m_browser->setChecked(g.key, true);
    } else {
      m_browser->setChecked(info.absoluteFilePath(), true);
      m_browser->setCurrentRun(info.absoluteFilePath());
    }
  } else if (info.isFile() && info.suffix() == QLatin1String("safetensors")) {
    m_gates->setModel(info.absoluteFilePath(), 0);
  } else {
    showOpenError(info.exists() ? tr("%1: neither a run directory nor a .safetensors checkpoint").arg(path)
                                : tr("%1: no such file or directory").arg(path));
    return false;
  }
  addRecent(info.absoluteFilePath());
  return true;
}

bool MainWindow::openPaths(const QStringList& paths) {
  dismissOpenError();
  bool ok = true;
  QStringList images;
  for (const QString& p : paths) {
    const QFileInfo info(p);
    if (!info.exists()) {
      showOpenError(tr("%1: no such file or directory").arg(p));
      ok = false;
    } else if (is_run_directory(info) || is_study_directory(info) || info.fileName() == QLatin1String("run.json") ||
               info.fileName() == QLatin1String("study.json") ||
               info.suffix() == QLatin1String("safetensors") ||
               (info.isFile() && is_foreign_weights(p.toStdString()))) {
      ok = openOne(p) && ok;
    } else if (info.isDir()) {  // not a run's: a folder of images
      try {
        for (const auto& image : image_files({p.toStdString()})) images << QString::fromStdString(image);
      } catch (const Error&) {
        showOpenError(tr("%1: neither a run directory (no run.json), a study's (no study.json) nor a folder of images").arg(p));
        ok = false;
      }
    } else {
      images << p;
    }
  }
  if (!images.isEmpty()) {
    openImages(images);
    showView(QStringLiteral("gates"));
  }
  return ok;
}

void MainWindow::openImages(const QStringList& files) {
  QStringList present;
  for (const QString& f : files) {
    if (QFileInfo(f).isFile()) {
      present << f;
    } else if (QFileInfo(f).isDir()) {  // a folder of images: its image files, in name order
      try {
        for (const auto& image : image_files({f.toStdString()})) present << QString::fromStdString(image);
      } catch (const Error& e) {
        showOpenError(QString::fromStdString(e.what()));
      }
    } else {
      showOpenError(tr("%1: no such image file").arg(f));
    }
  }
  m_gates->addImages(present);
  if (!present.isEmpty()) QSettings().setValue(QStringLiteral("dirs/images"), QFileInfo(present.front()).absolutePath());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  for (const QUrl& url : e->mimeData()->urls())
    if (url.isLocalFile()) return e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  QStringList paths;
  for (const QUrl& url : e->mimeData()->urls())
    if (url.isLocalFile()) paths << url.toLocalFile();
  e->acceptProposedAction();
  openPaths(paths);
}

bool MainWindow::isBusy() const {
  return Job::running() > 0 || m_gates->isBusy() || m_selectivity->isBusy() || m_pruning->isBusy() ||
         m_compare->isBusy() || m_models->isBusy();
}

void MainWindow::showMessage(const QString& text, MessageKind kind, const QString& actionText,
                             std::function<void()> action) {
  m_messages->show(text, kind, actionText, std::move(action));
  statusBar()->showMessage(text, 10000);
}

QString MainWindow::messageText() const { return m_messages->text(); }

void MainWindow::offerToLocateData(const QString& run, const QString& place) {
  const RunRecord* r = m_catalog->find(run);
  if (!r) return;
  showMessage(tr("%1 cannot be measured: its data is not at %2 any more (moved, or on another machine's disk)")
                  .arg(r->name, place),
              MessageKind::kWarning, tr("Locate…"), [this, run] { locateData(run); });
}

void MainWindow::locateData(const QString& run) {
  const RunRecord* r = m_catalog->find(run);
  if (!r) return;
  const QString name = r->name;  // kept: the catalog may rescan while the chooser is open
  const std::string from = r->config.data;
  const QString to = ask_where_data_is(this, name, from, [this](const QString& q) { showMessage(q, MessageKind::kInformation); });
  if (to.isEmpty()) {
    showMessage(tr("%1's data was not located: its analyses wait").arg(name), MessageKind::kWarning);
    return;
  }
  const Relocation done = relocate_data(*m_catalog, from, to.toStdString());
  m_catalog->rescan();
  QString text = plural(int(done.recorded.size()), "%1 run reads its data from ", "%1 runs read their data from ") +
                 QString::fromStdString(parse_data_spec(to.toStdString()).dir);
  if (!done.skipped.isEmpty()) text += tr("; left as they were: %1").arg(done.skipped.join(QStringLiteral("; ")));
  showMessage(text, done.skipped.isEmpty() ? MessageKind::kPositive : MessageKind::kWarning);
  m_selectivity->compute();
  m_pruning->compute();
  m_compare->retry();
}

QString MainWindow::trainingStatus() const { return m_trainingLabel->isVisible() ? m_trainingLabel->text() : QString(); }

void MainWindow::onTrainingProgress(double fraction, const QString& run) {
  const bool training = fraction >= 0;
  m_trainingLabel->setVisible(training);
  m_trainingBar->setVisible(training);
  if (!training) {
    setWindowTitle(QStringLiteral("GE Explorer"));
    return;
  }
  const int percent = int(std::floor(100 * fraction));
  m_trainingLabel->setText(tr("Training %1: %2 %").arg(run).arg(percent));
  m_trainingBar->setValue(int(1000 * fraction));
  setWindowTitle(QStringLiteral("[%1 %] %2 — GE Explorer").arg(percent).arg(run));
}

void MainWindow::quitWithoutAsking() {
  m_quitWithoutAsking = true;
  close();
}

void MainWindow::closeEvent(QCloseEvent* e) {
  if (m_train->isTraining()) {
    const auto answer =
        m_quitWithoutAsking
            ? QMessageBox::Yes
            : QMessageBox::question(this, tr("Training is running"),
                                    tr("Stop training and quit? The run keeps a checkpoint and can be resumed later."),
                                    QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Yes) {
      e->ignore();
      return;
    }
    m_train->stop();
    statusBar()->showMessage(tr("Saving a resumable checkpoint…"));
    while (m_train->isTraining()) QApplication::processEvents(QEventLoop::WaitForMoreEvents, 100);
  }
  QSettings settings;
  settings.setValue(QStringLiteral("geometry"), saveGeometry());
  settings.setValue(QStringLiteral("state"), saveState());
  e->accept();
}

}  // namespace gex::ui
