#include "job_bar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QShortcut>
#include <QSpinBox>
#include <QVBoxLayout>

#include "flow_layout.h"

namespace gex::ui {

namespace {

// A label and its control as one item of the row, so that wrapping never parts them.
QWidget* labelled(const QString& text, QWidget* control, QWidget* parent) {
  auto* pair = new QWidget(parent);
  auto* layout = new QHBoxLayout(pair);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* label = new QLabel(text, pair);
  label->setBuddy(control);
  layout->addWidget(label);
  layout->addWidget(control);
  return pair;
}

}  // namespace

JobBar::JobBar(const QString& settingsKey, int defaultLimit, QWidget* parent)
    : QWidget(parent),
      m_cancel(new QPushButton(tr("Cancel"), this)),
      m_progress(new QProgressBar(this)),
      m_status(new QLabel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* row = new QHBoxLayout;
  layout->addLayout(row);
  auto* own = new QWidget(this);
  m_controls = new FlowLayout(own);
  m_controls->setContentsMargins(0, 0, 0, 0);
  row->addWidget(own, 1);
  auto* status = new QHBoxLayout;
  status->addWidget(m_status, 1);
  status->addWidget(m_progress, 1);
  layout->addLayout(status);
  m_progress->setRange(0, 1000);
  m_progress->setVisible(false);
  m_status->setWordWrap(true);
  m_cancel->setToolTip(tr("Stop the work in progress after the current batch (Esc)"));
  if (!settingsKey.isEmpty()) {
    m_limit = new QSpinBox(this);
    m_limit->setRange(100, 1000000);
    m_limit->setSingleStep(500);
    bool ok = false;
    const int saved = QSettings().value(settingsKey, defaultLimit).toInt(&ok);
    m_limit->setValue(ok ? saved : defaultLimit);
    m_limit->setToolTip(tr("Test images used: the first N of the data set's test split"));
    m_limit->setAccessibleName(tr("Test images"));
    connect(m_limit, &QSpinBox::valueChanged, this, [settingsKey](int v) { QSettings().setValue(settingsKey, v); });
    auto* compute = new QPushButton(tr("Compute"), this);
    compute->setToolTip(tr("Compute what is missing, including what failed or was cancelled before"));
    connect(compute, &QPushButton::clicked, this, &JobBar::computeRequested);
    row->addWidget(labelled(tr("Test images"), m_limit, this), 0, Qt::AlignTop);
    row->addWidget(compute, 0, Qt::AlignTop);
  }
  row->addWidget(m_cancel, 0, Qt::AlignTop);
  connect(m_cancel, &QPushButton::clicked, this, &JobBar::cancel);
  if (parent) {
    auto* escape = new QShortcut(QKeySequence(Qt::Key_Escape), parent);
    escape->setContext(Qt::WidgetWithChildrenShortcut);
    connect(escape, &QShortcut::activated, this, &JobBar::cancel);
  }
  updateState();
}

void JobBar::addControl(QWidget* widget) { m_controls->addWidget(widget); }
void JobBar::addControl(const QString& label, QWidget* widget) { m_controls->addWidget(labelled(label, widget, this)); }

int JobBar::limit() const { return m_limit ? m_limit->value() : 0; }
void JobBar::setLimit(int images) {
  if (m_limit) m_limit->setValue(images);
}
void JobBar::setStatus(const QString& text) { m_status->setText(text); }
QString JobBar::status() const { return m_status->text(); }

void JobBar::cancel() {
  if (m_jobs.isEmpty()) return;
  Q_EMIT cancelRequested();
  for (auto& j : m_jobs)
    if (j) j->cancel();
  m_status->setText(tr("Cancelling after the current batch…"));
}

void JobBar::track(Job* job) {
  m_jobs << job;
  connect(job, &Job::progress, this, [this](double f, const QString& text) {
    m_progress->setValue(f < 0 ? 0 : int(1000 * f));
    m_progress->setMaximum(f < 0 ? 0 : 1000);  // busy indicator when unknown
    m_status->setText(text);
  });
  connect(job, &Job::finished, this, [this, job](JobOutcome outcome, const QString&) {
    m_jobs.removeAll(job);
    if (outcome == JobOutcome::kCancelled && m_jobs.isEmpty())
      m_status->setText(tr("Cancelled. Compute starts it again."));
    updateState();
  });
  connect(job, &QObject::destroyed, this, &JobBar::updateState);  // dropped before it started
  updateState();
}

void JobBar::updateState() {
  m_jobs.removeAll(nullptr);
  m_cancel->setEnabled(!m_jobs.isEmpty());
  m_progress->setVisible(!m_jobs.isEmpty());
  if (m_jobs.isEmpty()) m_progress->setRange(0, 1000), m_progress->setValue(0);
}

}  // namespace gex::ui
