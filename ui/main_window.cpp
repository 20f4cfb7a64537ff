#include "main_window.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QStandardPaths>
#include <QStatusBar>
#include <QTabWidget>
#include <QTimer>
#include <QToolButton>
#include <QVBoxLayout>

#include "compare_view.h"
#include "curves_view.h"
#include "gates_view.h"
#include "job.h"
#include "qcp.h"
#include "pruning_view.h"
#include "run_browser.h"
#include "run_catalog.h"
#include "selectivity_view.h"
#include "train_view.h"

namespace gex::ui {

QStringList MainWindow::viewNames() {
  return {QStringLiteral("train"),       QStringLiteral("curves"),  QStringLiteral("gates"),
          QStringLiteral("selectivity"), QStringLiteral("pruning"), QStringLiteral("compare")};
}

QString MainWindow::resourceDirectory() {
  const QString env = qEnvironmentVariable("GEX_RESOURCE_DIR");
  const QStringList candidates = {env, QApplication::applicationDirPath() + QStringLiteral("/../share/ge-explorer"),
                                  QStringLiteral(GEX_SOURCE_RESOURCES)};
  for (const QString& dir : candidates)
    if (!dir.isEmpty() && QFileInfo::exists(dir + QStringLiteral("/default-runs"))) return QDir(dir).canonicalPath();
  return {};
}

MainWindow::MainWindow(const QString& runsDir, QWidget* parent)
    : QMainWindow(parent), m_catalog(new RunCatalog(this)) {
  setWindowTitle(QStringLiteral("GE Explorer"));
  setWindowIcon(QIcon(resourceDirectory() + QStringLiteral("/icons/ge-explorer.svg")));
  QSettings settings;
  const QString resources = resourceDirectory();
  if (!resources.isEmpty()) m_catalog->setShippedDirectory(resources + QStringLiteral("/default-runs"));
  const QString defaultRuns =
      QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation) + QStringLiteral("/ge-explorer/runs");
  m_catalog->setRunsDirectory(!runsDir.isEmpty() ? runsDir : settings.value(QStringLiteral("runsDirectory"), defaultRuns).toString());

  m_browser = new RunBrowser(m_catalog, this);
  auto* dock = new QDockWidget(tr("Runs"), this);
  dock->setObjectName(QStringLiteral("runs"));
  dock->setWidget(m_browser);
  addDockWidget(Qt::LeftDockWidgetArea, dock);

  m_views = new QTabWidget(this);
  m_train = new TrainView(m_catalog, m_views);
  m_curves = new CurvesView(m_catalog, m_views);
  m_gates = new GatesView(m_catalog, m_views);
  m_selectivity = new SelectivityView(m_catalog, m_views);
  m_pruning = new PruningView(m_catalog, m_views);
  m_compare = new CompareView(m_catalog, m_views);
  m_views->addTab(m_train, tr("&Train"));
  m_views->addTab(m_curves, tr("&Curves"));
  m_views->addTab(m_gates, tr("&Gates"));
  m_views->addTab(m_selectivity, tr("&Selectivity"));
  m_views->addTab(m_pruning, tr("&Pruning"));
  m_views->addTab(m_compare, tr("C&ompare"));

  // A message bar above the views: errors stay until dismissed, with the file named.
  m_messageBar = new QWidget(this);
  m_messageBar->setAutoFillBackground(true);
  QPalette warn = m_messageBar->palette();
  warn.setColor(QPalette::Window, QColor(0xfd, 0xe8, 0xc8));
  warn.setColor(QPalette::WindowText, QColor(0x40, 0x20, 0x00));
  m_messageBar->setPalette(warn);
  m_messageText = new QLabel(m_messageBar);
  m_messageText->setWordWrap(true);
  m_messageText->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* close = new QToolButton(m_messageBar);
  close->setText(QStringLiteral("✕"));
  close->setAutoRaise(true);
  auto* barLayout = new QHBoxLayout(m_messageBar);
  barLayout->setContentsMargins(8, 4, 4, 4);
  barLayout->addWidget(m_messageText, 1);
  barLayout->addWidget(close);
  m_messageBar->hide();
  connect(close, &QToolButton::clicked, m_messageBar, &QWidget::hide);
  auto* central = new QWidget(this);
  auto* layout = new QVBoxLayout(central);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addWidget(m_messageBar);
  layout->addWidget(m_views, 1);
  setCentralWidget(central);

  const auto messagesFrom = [this](auto* source) {
    connect(source, &std::remove_pointer_t<decltype(source)>::message, this, &MainWindow::showMessage);
  };
  messagesFrom(m_browser);
  messagesFrom(m_train);
  messagesFrom(m_curves);
  messagesFrom(m_gates);
  messagesFrom(m_selectivity);
  messagesFrom(m_pruning);
  messagesFrom(m_compare);
  connect(m_browser, &RunBrowser::checkedRunsChanged, this, [this] {
    const QStringList runs = m_browser->checkedRuns();
    m_curves->setRuns(runs);
    m_selectivity->setRuns(runs);
    m_pruning->setRuns(runs);
    QSettings().setValue(QStringLiteral("checkedRuns"), runs);
  });
  connect(m_browser, &RunBrowser::currentRunChanged, m_train, &TrainView::setSelectedRun);
  connect(m_browser, &RunBrowser::resumeRequested, this, [this](const QString& run) {
    m_views->setCurrentWidget(m_train);
    m_train->resume(run);
  });
  connect(m_browser, &RunBrowser::changeDirectoryRequested, this, &MainWindow::chooseRunsDirectory);
  connect(m_train, &TrainView::runStarted, this, [this](const QString& dir) {
    QTimer::singleShot(2000, this, [this, dir] { m_browser->setChecked(dir, true); });
  });

  buildMenus();
  // First start: the shipped runs overlaid and the sample images ready, so every view has content.
  const QStringList checked = settings.value(QStringLiteral("checkedRuns")).toStringList();
  bool any = false;
  for (const QString& p : checked)
    if (m_catalog->find(p)) m_browser->setChecked(p, true), any = true;
  if (!any)
    for (const auto& r : m_catalog->runs())
      if (r.shipped) m_browser->setChecked(r.path, true);
  if (!resources.isEmpty()) {
    QStringList samples;
    for (const QFileInfo& f : QDir(resources + QStringLiteral("/samples")).entryInfoList(QDir::Files, QDir::Name))
      samples << f.filePath();
    m_gates->addImages(samples);
  }
  QStringList shipped;
  for (const auto& r : m_catalog->runs())
    if (r.shipped) shipped << r.path;
  if (shipped.size() >= 2) {
    QString baseline, ge;
    for (const auto& r : m_catalog->runs())
      if (r.shipped && r.config.model.attention == AttentionKind::kNone) baseline = r.path;
      else if (r.shipped && ge.isEmpty()) ge = r.path;
    m_compare->setPair(baseline, ge);
  }

  resize(1400, 860);
  restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray());
  restoreState(settings.value(QStringLiteral("state")).toByteArray());
  m_views->setCurrentIndex(settings.value(QStringLiteral("view"), 1).toInt());
  connect(m_views, &QTabWidget::currentChanged, this, [this](int i) {
    QSettings().setValue(QStringLiteral("view"), i);
    for (auto* plot : m_views->widget(i)->findChildren<QCustomPlot*>()) plot->replot(QCustomPlot::rpQueuedReplot);
  });
  statusBar()->showMessage(tr("Runs folder: %1").arg(m_catalog->runsDirectory()));
}

MainWindow::~MainWindow() = default;

void MainWindow::buildMenus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &run or checkpoint…"), QKeySequence::Open, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, tr("A run's run.json or a checkpoint"),
                                                      QSettings().value(QStringLiteral("dirs/open")).toString(),
                                                      tr("Runs and checkpoints (run.json *.safetensors)"));
    if (path.isEmpty()) return;
    QSettings().setValue(QStringLiteral("dirs/open"), QFileInfo(path).absolutePath());
    openPath(path.endsWith(QLatin1String("run.json")) ? QFileInfo(path).absolutePath() : path);
  });
  file->addAction(tr("Open &images…"), QKeySequence(QStringLiteral("Ctrl+I")), this, [this] {
    const QStringList files = QFileDialog::getOpenFileNames(this, tr("Images"), QSettings().value(QStringLiteral("dirs/images")).toString());
    if (!files.isEmpty()) openImages(files);
  });
  m_recent = file->addMenu(tr("Open &recent"));
  const auto fillRecent = [this] {
    m_recent->clear();
    for (const QString& p : QSettings().value(QStringLiteral("recent")).toStringList())
      m_recent->addAction(p, this, [this, p] { openPath(p); });
  };
  connect(m_recent, &QMenu::aboutToShow, this, fillRecent);
  file->addAction(tr("Runs &folder…"), this, &MainWindow::chooseRunsDirectory);
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);
  QMenu* view = menuBar()->addMenu(tr("&View"));
  const QStringList names = viewNames();
  for (int i = 0; i < names.size(); ++i)
    view->addAction(m_views->tabText(i).remove(QLatin1Char('&')), QKeySequence(QStringLiteral("Ctrl+%1").arg(i + 1)), this,
                    [this, i] { m_views->setCurrentIndex(i); });
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&About GE Explorer"), this, [this] {
    QMessageBox::about(this, tr("About GE Explorer"),
                       tr("<b>GE Explorer %1</b><p>Train and inspect Gather-Excite networks (Hu et al., NeurIPS 2018): "
                          "optimisation curves, gate maps, class selectivity and pruning, baseline against GE.</p>"
                          "<p>Command line twin: <code>gex --help</code></p>")
                           .arg(QStringLiteral(GEX_VERSION)));
  });
}

void MainWindow::chooseRunsDirectory() {
  const QString dir = QFileDialog::getExistingDirectory(this, tr("Runs folder"), m_catalog->runsDirectory());
  if (dir.isEmpty()) return;
  m_catalog->setRunsDirectory(dir);
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

bool MainWindow::openPath(const QString& path) {
  const QFileInfo info(path);
  if (info.isDir()) {
    QString error;
    if (!m_catalog->addRun(path, &error)) {
      showMessage(error);
      return false;
    }
    m_browser->setChecked(path, true);
    m_browser->setCurrentRun(path);
  } else if (info.isFile() && info.suffix() == QLatin1String("safetensors")) {
    m_gates->setModel(info.absoluteFilePath(), 0);
  } else {
    showMessage(tr("%1: neither a run directory nor a .safetensors checkpoint").arg(path));
    return false;
  }
  addRecent(info.absoluteFilePath());
  return true;
}

void MainWindow::openImages(const QStringList& files) {
  QStringList present;
  for (const QString& f : files) {
    if (QFileInfo(f).isFile()) present << f;
    else showMessage(tr("%1: no such image file").arg(f));
  }
  m_gates->addImages(present);
  if (!present.isEmpty()) QSettings().setValue(QStringLiteral("dirs/images"), QFileInfo(present.front()).absolutePath());
}

bool MainWindow::isBusy() const {
  return Job::running() > 0 || m_gates->isBusy() || m_selectivity->isBusy() || m_pruning->isBusy() ||
         m_compare->isBusy();
}

void MainWindow::showMessage(const QString& text) {
  m_messageText->setText(text);
  m_messageBar->show();
  statusBar()->showMessage(text, 10000);
}

QString MainWindow::messageText() const { return m_messageBar->isHidden() ? QString() : m_messageText->text(); }

void MainWindow::closeEvent(QCloseEvent* e) {
  if (m_train->isTraining()) {
    const auto answer = QMessageBox::question(
        this, tr("Training is running"),
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
