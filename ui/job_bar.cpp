#include "job_bar.h"

#include <QHBoxLayout>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QVBoxLayout>

#include "job.h"

namespace gex::ui {

JobBar::JobBar(const QString& settingsKey, int defaultLimit, QWidget* parent)
    : QWidget(parent), m_controls(new QHBoxLayout), m_progress(new QProgressBar(this)), m_status(new QLabel(this)) {
  auto* layout = new QVBoxLayout(this);
  layout->setContentsMargins(0, 0, 0, 0);
  layout->addLayout(m_controls);
  auto* status = new QHBoxLayout;
  status->addWidget(m_status, 1);
  status->addWidget(m_progress, 1);
  layout->addLayout(status);
  m_progress->setRange(0, 1000);
  m_progress->setVisible(false);
  m_status->setWordWrap(true);
  auto* cancel = new QPushButton(tr("Cancel"), this);
  cancel->setToolTip(tr("Stop the analyses after the current batch"));
  if (!settingsKey.isEmpty()) {
    m_limit = new QSpinBox(this);
    m_limit->setRange(100, 1000000);
    m_limit->setSingleStep(500);
    m_limit->setValue(QSettings().value(settingsKey, defaultLimit).toInt());
    m_limit->setToolTip(tr("Test images used (the first N of the split)"));
    connect(m_limit, &QSpinBox::valueChanged, this, [settingsKey](int v) { QSettings().setValue(settingsKey, v); });
    auto* compute = new QPushButton(tr("Compute"), this);
    connect(compute, &QPushButton::clicked, this, [this] {
      m_failed.clear();
      Q_EMIT computeRequested();
    });
    m_controls->addStretch(1);
    m_controls->addWidget(new QLabel(tr("Test images"), this));
    m_controls->addWidget(m_limit);
    m_controls->addWidget(compute);
  } else {
    m_controls->addStretch(1);
  }
  m_controls->addWidget(cancel);
  connect(cancel, &QPushButton::clicked, this, [this] {
    for (auto& j : m_jobs)
      if (j) j->cancel();
  });
}

JobBar::~JobBar() {
  for (auto& j : m_jobs) delete j;  // cancels and waits
}

int JobBar::limit() const { return m_limit ? m_limit->value() : 0; }
void JobBar::setLimit(int images) {
  if (m_limit) m_limit->setValue(images);
}
void JobBar::setStatus(const QString& text) { m_status->setText(text); }

bool JobBar::isQueued(const QString& key) const {
  for (const auto& j : m_jobs)
    if (j && j->property("key").toString() == key) return true;
  return false;
}

void JobBar::run(Job* job, const QString& key) {
  job->setParent(this);
  job->setProperty("key", key);
  m_jobs << job;
  connect(job, &Job::progress, this, [this](double f, const QString& text) {
    m_progress->setVisible(true);
    m_progress->setValue(f < 0 ? 0 : int(1000 * f));
    m_status->setText(text);
  });
  connect(job, &Job::finished, this, [this, job, key](bool ok, const QString& error) {
    m_jobs.removeAll(job);
    if (!ok) m_failed << key;
    job->deleteLater();
    m_progress->setVisible(!m_jobs.isEmpty());
    Q_EMIT jobFinished(ok, error);
  });
  job->start();
}

}  // namespace gex::ui
