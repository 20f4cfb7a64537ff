#include "run_browser.h"

#include <QDesktopServices>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHash>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QMenu>
#include <QPainter>
#include <QPushButton>
#include <QShortcut>
#include <QTreeWidget>
#include <QTreeWidgetItemIterator>
#include <QUrl>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

#include "plot_style.h"
#include "run_catalog.h"
#include "plural.h"

namespace gex::ui {

namespace {
enum Column { kName, kModel, kStatus, kBest };
constexpr int kPathRole = Qt::UserRole + 1;   // a run's path, a group's key, a study's folder
constexpr int kKindRole = Qt::UserRole + 2;   // what the item is
constexpr int kWordsRole = Qt::UserRole + 3;  // a run's settings in gex's words, for the filter
enum Kind { kRunItem, kGroupItem, kStudyItem };

Kind kind_of(const QTreeWidgetItem* item) { return Kind(item->data(kName, kKindRole).toInt()); }

// A run's settings as gex's flags spell them ("ge theta-minus global"), which the Model column
// writes as GE-θ⁻ (global, avg), and its data.
QString setting_words(const TrainConfig& c) {
  std::string words = c.model.backbone + " " + to_string(c.model.attention);
  if (c.model.attention == AttentionKind::kGE)
    words += " " + to_string(c.model.variant) + " " + extent_to_string(c.model.extent) + " " + to_string(c.model.pool);
  return QString::fromStdString(words + " " + c.data);
}

// What the filter looks in: the item's columns and settings, and its study's and group's names.
QString filter_text(const QTreeWidgetItem* item) {
  QString text = item->data(kName, kWordsRole).toString();
  for (int c : {kName, kModel, kStatus}) text += QLatin1Char(' ') + item->text(c);
  for (const QTreeWidgetItem* up = item->parent(); up; up = up->parent()) text += QLatin1Char(' ') + up->text(kName);
  return text;
}

// Whether `item` or one of its children holds every word; hides those that do not.
bool show_matching(QTreeWidgetItem* item, const QStringList& words) {
  bool shown = false;
  for (int i = 0; i < item->childCount(); ++i) shown = show_matching(item->child(i), words) || shown;
  if (item->childCount() == 0) {
    const QString text = filter_text(item);
    shown = std::all_of(words.begin(), words.end(), [&](const QString& w) { return text.contains(w, Qt::CaseInsensitive); });
  }
  item->setHidden(!shown);
  return shown;
}

// The run's colour, marked with its state where it needs attention, so that the state shows in the
// name column alone (at laptop width the Status column lies beyond the panel's edge): ▶ running,
// ! stalled or unreadable, × failed, ‖ stopped; a finished run's swatch is plain.
QIcon state_swatch(const RunRecord& r) {
  const QColor colour = run_color(r.colour);
  QPixmap swatch(12, 12);
  swatch.fill(colour);
  QPainter p(&swatch);
  p.setRenderHint(QPainter::Antialiasing);
  p.setPen(QPen(colour.lightnessF() > 0.6 ? Qt::black : Qt::white, 1.6));
  p.setBrush(p.pen().color());
  if (!r.readable || r.stalled()) {
    p.drawLine(QPointF(6, 2), QPointF(6, 7.2));
    p.drawPoint(QPointF(6, 9.6));
  } else if (r.status == RunStatus::kRunning) {
    p.drawPolygon(QPolygonF({QPointF(3.5, 2.5), QPointF(9.5, 6), QPointF(3.5, 9.5)}));
  } else if (r.status == RunStatus::kFailed) {
    p.drawLine(QPointF(3, 3), QPointF(9, 9));
    p.drawLine(QPointF(9, 3), QPointF(3, 9));
  } else if (r.status == RunStatus::kStopped) {
    p.drawLine(QPointF(4.5, 3), QPointF(4.5, 9));
    p.drawLine(QPointF(7.5, 3), QPointF(7.5, 9));
  }
  return QIcon(swatch);
}
}  // namespace

RunBrowser::RunBrowser(RunCatalog* catalog, QWidget* parent)
    : QWidget(parent), m_catalog(catalog), m_tree(new QTreeWidget(this)), m_folder(new QLabel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(4, 4, 4, 4);
  auto* top = new QHBoxLayout;
  m_folder->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_folder->setMinimumWidth(80);
  setMinimumWidth(220);
  auto* change = new QPushButton(tr("Folder…"), this);
  change->setToolTip(tr("Choose the folder that holds your runs"));
  top->addWidget(m_folder, 1);
  top->addWidget(change);
  layout->addLayout(top);
  m_filter = new QLineEdit(this);
  m_filter->setPlaceholderText(tr("Filter runs (Ctrl+F)"));
  m_filter->setToolTip(tr("Lists the runs whose name, model, status or folder hold every word typed here"));
  m_filter->setClearButtonEnabled(true);
  m_filter->setAccessibleName(tr("Filter runs"));
  connect(m_filter, &QLineEdit::textChanged, this, &RunBrowser::applyFilter);
  auto* down = new QShortcut(QKeySequence(Qt::Key_Down), m_filter);  // from the field into the list
  down->setContext(Qt::WidgetShortcut);
  connect(down, &QShortcut::activated, m_tree, qOverload<>(&QWidget::setFocus));
  auto* clear = new QShortcut(QKeySequence(Qt::Key_Escape), m_filter);
  clear->setContext(Qt::WidgetShortcut);
  connect(clear, &QShortcut::activated, m_filter, &QLineEdit::clear);
  layout->addWidget(m_filter);
  m_filterHint = new QLabel(this);
  m_filterHint->setWordWrap(true);
  m_filterHint->setForegroundRole(QPalette::PlaceholderText);
  m_filterHint->hide();
  connect(this, &RunBrowser::checkedRunsChanged, this, &RunBrowser::showFilterHint);
  layout->addWidget(m_filterHint);
  layout->addWidget(m_tree);
  m_tree->setHeaderLabels({tr("Run"), tr("Model"), tr("Status"), tr("Best top-1")});
  m_tree->setRootIsDecorated(true);
  m_tree->setUniformRowHeights(true);
  m_tree->setContextMenuPolicy(Qt::CustomContextMenu);
  m_tree->header()->setSectionResizeMode(QHeaderView::ResizeToContents);
  m_tree->header()->setStretchLastSection(false);
  m_tree->setTextElideMode(Qt::ElideMiddle);
  m_tree->viewport()->installEventFilter(this);
  m_tree->setToolTip(tr("Check runs to overlay them in the plots; right-click for more; Delete moves a run to the trash"));
  auto* remove = new QShortcut(QKeySequence::Delete, m_tree);
  remove->setContext(Qt::WidgetShortcut);
  connect(remove, &QShortcut::activated, this, [this] {
    auto* item = m_tree->currentItem();
    if (item && kind_of(item) == kRunItem) trashRun(currentRun());
  });
  connect(change, &QPushButton::clicked, this, &RunBrowser::changeDirectoryRequested);
  connect(m_tree, &QTreeWidget::customContextMenuRequested, this, &RunBrowser::showMenu);
  connect(m_tree, &QTreeWidget::itemChanged, this, [this](QTreeWidgetItem* item, int column) {
    if (m_filling || column != kName) return;
    const QString path = item->data(kName, kPathRole).toString();
    if (item->checkState(kName) == Qt::Checked) m_checked.insert(path);
    else m_checked.remove(path);
    Q_EMIT checkedRunsChanged();
  });
  connect(m_tree, &QTreeWidget::currentItemChanged, this, [this](QTreeWidgetItem* item) {
    if (!m_filling && item && kind_of(item) == kRunItem) Q_EMIT currentRunChanged(item->data(kName, kPathRole).toString());
  });
  connect(m_tree, &QTreeWidget::itemExpanded, this, [this](QTreeWidgetItem* item) {
    if (kind_of(item) == kGroupItem) m_expandedGroups.insert(item->data(kName, kPathRole).toString());
  });
  connect(m_tree, &QTreeWidget::itemCollapsed, this, [this](QTreeWidgetItem* item) {
    if (kind_of(item) == kGroupItem) m_expandedGroups.remove(item->data(kName, kPathRole).toString());
  });
  connect(m_catalog, &RunCatalog::runsChanged, this, &RunBrowser::rebuild);
  connect(m_catalog, &RunCatalog::runUpdated, this, &RunBrowser::update);
  rebuild();
}

void RunBrowser::fill(QTreeWidgetItem* item, const QString& path) {
  const RunRecord* r = m_catalog->find(path);
  if (!r) return;
  const QString name = r->study.isEmpty() ? r->name : QFileInfo(r->path).fileName();  // seed-<k> under its group
  item->setText(kName, r->shipped && r->study.isEmpty() ? name + tr(" (shipped)") : name);
  item->setData(kName, kPathRole, r->path);
  item->setData(kName, kKindRole, kRunItem);
  item->setText(kModel, r->model);
  item->setData(kName, kWordsRole, setting_words(r->config));
  item->setIcon(kName, state_swatch(*r));
  // A data-parallel run says on how many processes (and machines) it trains.
  const QString world = r->world_size > 1 ? QStringLiteral(" · ") + plural(r->world_size, "%1 process", "%1 processes") : QString();
  item->setText(kStatus, r->statusText() + world);
  QString tip = !r->stalled() ? r->message
                : (r->writerAlive ? tr("Marked running, but no process writes it any more (killed, or its machine "
                                       "lost; last write %1). Resume it from the context menu.")
                                  : tr("Marked running, but nothing written since %1: its process has most likely "
                                       "stopped. Resume it from the context menu."))
                      .arg(QLocale().toString(r->updated, QLocale::ShortFormat));
  if (r->world_size > 1)
    tip += (tip.isEmpty() ? QString() : QStringLiteral("\n")) +
           tr("%1 on %2").arg(plural(r->world_size, "%1 process", "%1 processes"), r->hosts.join(QStringLiteral(", ")));
  item->setToolTip(kStatus, tip);
  item->setToolTip(kName, r->path + QStringLiteral("\n") + r->statusText() + world +
                              (tip.isEmpty() ? QString() : QStringLiteral(": ") + tip));
  item->setText(kBest, std::isnan(r->best_error) ? QStringLiteral("–")
                                                  : QString::asprintf("%.2f %%", 100 * r->best_error));
  item->setCheckState(kName, m_checked.contains(r->path) ? Qt::Checked : Qt::Unchecked);
  if (!r->readable || r->status == RunStatus::kFailed)
    item->setForeground(kStatus, palette().color(QPalette::Disabled, QPalette::Text));
}

void RunBrowser::fillGroup(QTreeWidgetItem* item, const QString& key) {
  const RunGroup* g = m_catalog->findGroup(key);
  if (!g) return;
  const auto runs = m_catalog->runsOf(*g);
  item->setText(kName, tr("%1 (%2)").arg(g->variant, plural(int(runs.size()), "%1 run", "%1 runs")));
  item->setData(kName, kPathRole, g->key);
  item->setData(kName, kKindRole, kGroupItem);
  item->setToolTip(kName, tr("%1\nCheck to draw the runs' mean and spread; expand for the runs").arg(g->key));
  QPixmap swatch(10, 10);
  swatch.fill(run_color(g->colour));
  item->setIcon(kName, QIcon(swatch));
  if (!runs.empty()) item->setText(kModel, runs.front()->model);
  int finished = 0;
  std::vector<double> best;
  for (const RunRecord* r : runs) {
    finished += r->status == RunStatus::kFinished;
    if (!std::isnan(r->best_error)) best.push_back(r->best_error);
  }
  item->setText(kStatus, tr("%1 of %2 finished").arg(finished).arg(runs.size()));
  if (!best.empty()) {
    double mean = 0;
    for (double b : best) mean += b / double(best.size());
    item->setText(kBest, QString::asprintf("%.2f %% (mean)", 100 * mean));
  }
  item->setCheckState(kName, m_checked.contains(g->key) ? Qt::Checked : Qt::Unchecked);
}

QTreeWidgetItem* RunBrowser::addRunItem(QTreeWidgetItem* parent, const QString& path, const QString& current) {
  auto* item = parent ? new QTreeWidgetItem(parent) : new QTreeWidgetItem(m_tree);
  item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
  fill(item, path);
  if (path == current) m_tree->setCurrentItem(item);
  return item;
}

void RunBrowser::showFolder() {
  const QString folder = QDir::toNativeSeparators(m_catalog->runsDirectory());
  const QString home = QDir::toNativeSeparators(QDir::homePath());
  QString shown = folder;
  if (folder.startsWith(home + QDir::separator())) shown = QStringLiteral("~") + folder.mid(home.size());
  m_folder->setText(m_folder->fontMetrics().elidedText(tr("Runs: %1").arg(shown), Qt::ElideMiddle,
                                                       m_folder->contentsRect().width()));
  m_folder->setToolTip(folder);
}

void RunBrowser::resizeEvent(QResizeEvent* event) {
  QWidget::resizeEvent(event);
  showFolder();  // the layout has given the label its new width
}

bool RunBrowser::eventFilter(QObject* watched, QEvent* event) {
  if (watched == m_tree->viewport() && event->type() == QEvent::Resize)
    m_tree->header()->setMaximumSectionSize(std::max(m_tree->viewport()->width(), m_tree->header()->minimumSectionSize()));
  return QWidget::eventFilter(watched, event);
}

void RunBrowser::rebuild() {
  showFolder();
  const QString current = currentRun();
  m_filling = true;
  m_tree->clear();
  QSet<QString> present;
  QHash<QString, QTreeWidgetItem*> studies;
  for (const auto& r : m_catalog->runs()) {
    present.insert(r.path);
    if (r.study.isEmpty()) {
      addRunItem(nullptr, r.path, current);
      continue;
    }
    if (studies.contains(r.study)) continue;  // its groups are added with the study
    auto* study = new QTreeWidgetItem(m_tree);
    studies.insert(r.study, study);
    study->setText(kName, QFileInfo(r.study).fileName() + (r.shipped ? tr(" (shipped study)") : tr(" (study)")));
    study->setData(kName, kPathRole, r.study);
    study->setData(kName, kKindRole, kStudyItem);
    study->setToolTip(kName, r.study);
    QFont bold = study->font(kName);
    bold.setBold(true);
    study->setFont(kName, bold);
    for (const auto& g : m_catalog->groups()) {
      if (g.study != r.study) continue;
      auto* group = new QTreeWidgetItem(study);
      group->setFlags(group->flags() | Qt::ItemIsUserCheckable);
      fillGroup(group, g.key);
      present.insert(g.key);
      bool runChecked = false;  // a run checked on its own is never hidden in a collapsed group
      for (const QString& path : g.runs) {
        addRunItem(group, path, current);
        runChecked = runChecked || m_checked.contains(path);
      }
      group->setExpanded(m_expandedGroups.contains(g.key) || runChecked);
    }
    study->setExpanded(true);
  }
  const int before = m_checked.size();
  m_checked.intersect(present);
  m_filling = false;
  applyFilter();
  if (m_checked.size() != before) Q_EMIT checkedRunsChanged();
}

void RunBrowser::applyFilter() {
  const QStringList words = m_filter->text().split(QLatin1Char(' '), Qt::SkipEmptyParts);
  for (int i = 0; i < m_tree->topLevelItemCount(); ++i) show_matching(m_tree->topLevelItem(i), words);
  showFilterHint();
}

void RunBrowser::showFilterHint() {
  const bool filtered = !m_filter->text().trimmed().isEmpty();
  int runs = 0;
  int listed = 0;
  for (QTreeWidgetItemIterator it(m_tree); *it; ++it) {
    if (kind_of(*it) != kRunItem) continue;
    ++runs;
    listed += !(*it)->isHidden();
  }
  // An empty list beside plots that still draw the checked runs would look like a lost catalog.
  if (!filtered)
    m_filterHint->clear();
  else if (listed == 0)
    m_filterHint->setText(m_checked.isEmpty() ? tr("No run holds every word (Esc clears the filter)")
                                              : tr("No run holds every word (Esc clears the filter); the checked "
                                                   "runs stay drawn"));
  else
    m_filterHint->setText(tr("%1 of %2").arg(listed).arg(plural(runs, "%1 run", "%1 runs")));
  m_filterHint->setVisible(filtered);
}

QString RunBrowser::filterHint() const { return m_filterHint->text(); }

void RunBrowser::setFilter(const QString& words) { m_filter->setText(words); }

QString RunBrowser::filter() const { return m_filter->text(); }

void RunBrowser::focusFilter() {
  m_filter->setFocus(Qt::ShortcutFocusReason);
  m_filter->selectAll();
}

void RunBrowser::checkShown() {
  bool changed = false;
  m_filling = true;
  for (QTreeWidgetItemIterator it(m_tree, QTreeWidgetItemIterator::NotHidden); *it; ++it) {
    // A group checked draws its runs' mean: its runs are not checked one by one as well.
    if (kind_of(*it) == kStudyItem || ((*it)->parent() && kind_of((*it)->parent()) == kGroupItem)) continue;
    const QString key = (*it)->data(kName, kPathRole).toString();
    if (m_checked.contains(key)) continue;
    m_checked.insert(key);
    (*it)->setCheckState(kName, Qt::Checked);
    changed = true;
  }
  m_filling = false;
  if (changed) Q_EMIT checkedRunsChanged();
}

void RunBrowser::uncheckAll() {
  if (m_checked.isEmpty()) return;
  m_checked.clear();
  m_filling = true;
  for (QTreeWidgetItemIterator it(m_tree); *it; ++it)
    if (kind_of(*it) != kStudyItem) (*it)->setCheckState(kName, Qt::Unchecked);
  m_filling = false;
  Q_EMIT checkedRunsChanged();
}

void RunBrowser::update(const QString& path) {
  m_filling = true;
  for (QTreeWidgetItemIterator it(m_tree); *it; ++it) {
    QTreeWidgetItem* item = *it;
    if (kind_of(item) == kRunItem && item->data(kName, kPathRole).toString() == path) {
      fill(item, path);
      if (item->parent() && kind_of(item->parent()) == kGroupItem)  // the group's counts and mean
        fillGroup(item->parent(), item->parent()->data(kName, kPathRole).toString());
    }
  }
  m_filling = false;
  if (!m_filter->text().isEmpty()) applyFilter();  // its status may have left or joined the filter's
}

QStringList RunBrowser::checkedRuns() const {
  QStringList out;
  for (const auto& r : m_catalog->runs())
    if (m_checked.contains(r.path)) out << r.path;
  return out;
}

QStringList RunBrowser::checkedGroups() const {
  QStringList out;
  for (const auto& g : m_catalog->groups())
    if (m_checked.contains(g.key)) out << g.key;
  return out;
}

void RunBrowser::setChecked(const QString& path, bool checked) {
  QString key;
  if (const RunRecord* r = m_catalog->find(path)) key = r->path;
  else if (const RunGroup* g = m_catalog->findGroup(path)) key = g->key;
  if (key.isEmpty() || m_checked.contains(key) == checked) return;
  if (checked) m_checked.insert(key);
  else m_checked.remove(key);
  m_filling = true;
  for (QTreeWidgetItemIterator it(m_tree); *it; ++it)
    if ((*it)->data(kName, kPathRole).toString() == key && kind_of(*it) != kStudyItem) {
      (*it)->setCheckState(kName, checked ? Qt::Checked : Qt::Unchecked);
      if (checked && (*it)->parent() && kind_of((*it)->parent()) == kGroupItem) (*it)->parent()->setExpanded(true);
    }
  m_filling = false;
  Q_EMIT checkedRunsChanged();
}

QString RunBrowser::currentRun() const {
  auto* item = m_tree->currentItem();
  return item && kind_of(item) == kRunItem ? item->data(kName, kPathRole).toString() : QString();
}

void RunBrowser::setCurrentRun(const QString& path) {
  const RunRecord* r = m_catalog->find(path);
  for (QTreeWidgetItemIterator it(m_tree); r && *it; ++it)
    if (kind_of(*it) == kRunItem && (*it)->data(kName, kPathRole).toString() == r->path) m_tree->setCurrentItem(*it);
}

void RunBrowser::showMenu(const QPoint& pos) {
  auto* item = m_tree->itemAt(pos);
  const QString path = item && kind_of(item) == kRunItem ? item->data(kName, kPathRole).toString() : QString();
  const RunRecord* r = path.isEmpty() ? nullptr : m_catalog->find(path);
  QMenu menu(this);
  QAction *resume = nullptr, *open = nullptr, *remove = nullptr;
  if (r) {
    resume = menu.addAction(tr("Resume training"));
    resume->setEnabled(!r->shipped && !r->live() && r->readable && r->status != RunStatus::kFinished);
    open = menu.addAction(tr("Open folder"));
    menu.addSeparator();
    remove = menu.addAction(tr("Move to trash"));
    remove->setShortcut(QKeySequence::Delete);
    remove->setEnabled(!r->shipped && !r->live());
    menu.addSeparator();
  }
  auto* checkAll = menu.addAction(m_filter->text().trimmed().isEmpty() ? tr("Check all") : tr("Check all shown"));
  auto* uncheck = menu.addAction(tr("Uncheck all"));
  uncheck->setEnabled(!m_checked.isEmpty());
  QAction* chosen = menu.exec(m_tree->viewport()->mapToGlobal(pos));
  if (!chosen) return;
  if (chosen == resume) Q_EMIT resumeRequested(path);
  else if (chosen == open) QDesktopServices::openUrl(QUrl::fromLocalFile(path));
  else if (chosen == remove) trashRun(path);
  else if (chosen == checkAll) checkShown();
  else if (chosen == uncheck) uncheckAll();
}

bool RunBrowser::trashRun(const QString& path) {
  const RunRecord* r = m_catalog->find(path);
  if (!r) return false;
  if (r->shipped) {
    Q_EMIT message(tr("%1 is a shipped run and read-only").arg(r->name), MessageKind::kWarning);
    return false;
  }
  if (r->live()) {
    Q_EMIT message(tr("%1 is being trained; stop it before moving it to the trash").arg(r->name), MessageKind::kWarning);
    return false;
  }
  const QString original = r->path;
  QString inTrash;
  // The desktop trash (freedesktop.org): recoverable from the file manager too. Where there is no
  // trash on the run's disk, nothing is deleted.
  if (!QFile::moveToTrash(original, &inTrash)) {
    Q_EMIT message(tr("%1 could not be moved to the trash (no trash on its disk?); it was left as it is").arg(original));
    return false;
  }
  m_catalog->rescan();
  Q_EMIT runTrashed(original, inTrash);
  return true;
}

bool RunBrowser::restoreRun(const QString& original, const QString& inTrash) {
  if (QFileInfo::exists(original) || !QDir().rename(inTrash, original)) {
    Q_EMIT message(tr("%1 could not be put back (it is still in the trash as %2)").arg(original, inTrash));
    return false;
  }
  // The trash's record of it (Trash/info/NAME.trashinfo beside Trash/files/NAME).
  const QFileInfo trashed(inTrash);
  QFile::remove(trashed.dir().absoluteFilePath(QStringLiteral("../info/%1.trashinfo").arg(trashed.fileName())));
  m_catalog->rescan();
  setCurrentRun(original);
  Q_EMIT message(tr("%1 is back").arg(QFileInfo(original).fileName()), MessageKind::kPositive);
  return true;
}

}  // namespace gex::ui
