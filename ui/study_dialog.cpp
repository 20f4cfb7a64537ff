#include "study_dialog.h"

#include <QCheckBox>
#include <QDate>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

namespace gex::ui {

namespace {

// A new study unless the user names an old one: today's folder, or the first free one after it.
QString new_study_folder(const QString& runsDir) {
  const QString first = runsDir + QStringLiteral("/study-") + QDate::currentDate().toString(Qt::ISODate);
  QString dir = first;
  for (int k = 2; QFileInfo::exists(dir); ++k) dir = first + QLatin1Char('-') + QString::number(k);
  return dir;
}

// The folder chosen in the chooser, as the study's folder: a study (continued) or an empty folder
// as it is; any other — the runs folder, a project's — gets a new study inside it.
QString study_folder_for(const QString& chosen) {
  const QDir dir(chosen);
  if (dir.exists(QStringLiteral("study.json")) || dir.isEmpty()) return chosen;
  return new_study_folder(chosen);
}

}  // namespace

StudyDialog::StudyDialog(const QString& runsDir, const QString& extent, QWidget* parent)
    : QDialog(parent) {
  setWindowTitle(tr("Start study"));
  auto* layout = new QVBoxLayout(this);
  auto* intro = new QLabel(
      tr("Each variant is trained once per seed with the settings of the form, so that the "
         "comparison with the baseline says how sure it is. GE variants use extent %1.")
          .arg(extent),
      this);
  intro->setWordWrap(true);
  layout->addWidget(intro);
  auto* form = new QFormLayout;
  auto* variants = new QVBoxLayout;
  const QList<QPair<QString, QString>> names = {
      {QStringLiteral("baseline"), tr("Baseline (no attention)")},
      {QStringLiteral("se"), tr("SE")},
      {QStringLiteral("theta-minus"), tr("GE-θ⁻ (parameter-free)")},
      {QStringLiteral("theta"), tr("GE-θ (depthwise gather)")},
      {QStringLiteral("theta-plus"), tr("GE-θ⁺ (gather and excite MLP)")}};
  for (const auto& [name, label] : names) {
    auto* box = new QCheckBox(label, this);
    box->setChecked(name != QLatin1String("se"));
    connect(box, &QCheckBox::toggled, this, &StudyDialog::validate);
    variants->addWidget(box);
    m_variants.append({name, box});
  }
  form->addRow(tr("Variants"), variants);
  m_seeds = new QSpinBox(this);
  m_seeds->setRange(1, 100);
  m_seeds->setValue(3);
  m_seeds->setToolTip(tr("Seeds 1 … K: initialisation, data order and augmentation"));
  form->addRow(tr("Seeds"), m_seeds);
  m_dir = new QLineEdit(new_study_folder(runsDir), this);
  m_dir->setToolTip(
      tr("The study's folder: one run per variant and seed, study.json and study.csv. An existing "
         "study of the same settings is continued."));
  connect(m_dir, &QLineEdit::textChanged, this, &StudyDialog::validate);
  auto* browse = new QToolButton(this);
  browse->setText(QStringLiteral("…"));
  browse->setToolTip(tr("Choose a study to continue, or the folder to start a new one in"));
  browse->setAccessibleName(tr("Choose the study's folder"));
  browse->setObjectName(QStringLiteral("browseStudy"));
  connect(browse, &QToolButton::clicked, this, &StudyDialog::chooseFolder);
  auto* folderRow = new QHBoxLayout;
  folderRow->addWidget(m_dir, 1);
  folderRow->addWidget(browse);
  form->addRow(tr("Folder"), folderRow);
  layout->addLayout(form);
  m_note = new QLabel(this);
  m_note->setWordWrap(true);
  m_note->setObjectName(QStringLiteral("folderNote"));
  layout->addWidget(m_note);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  m_ok = buttons->button(QDialogButtonBox::Ok);
  m_ok->setText(tr("Start study"));
  connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  layout->addWidget(buttons);
  validate();
}

QStringList StudyDialog::variants() const {
  QStringList out;
  for (const auto& [name, box] : m_variants)
    if (box->isChecked()) out << name;
  return out;
}

int StudyDialog::seeds() const { return m_seeds->value(); }
QString StudyDialog::directory() const { return m_dir->text().trimmed(); }

void StudyDialog::setVariants(const QStringList& names) {
  for (const auto& [name, box] : m_variants) box->setChecked(names.contains(name));
}

void StudyDialog::setSeeds(int seeds) { m_seeds->setValue(seeds); }
void StudyDialog::setDirectory(const QString& dir) { m_dir->setText(dir); }
QString StudyDialog::folderNote() const { return m_note->text(); }
bool StudyDialog::canStart() const { return m_ok->isEnabled(); }

void StudyDialog::chooseFolder() {
  const QFileInfo now(directory());
  const QString chosen = QFileDialog::getExistingDirectory(this, tr("The study's folder"),
                                                           now.isDir() ? now.absoluteFilePath() : now.absolutePath());
  if (!chosen.isEmpty()) setDirectory(study_folder_for(chosen));
}

void StudyDialog::validate() {
  // A file, or a folder that holds something other than a study, would be refused by gex study: say so here.
  const QString dir = directory();
  const bool study = QFileInfo::exists(dir + QStringLiteral("/study.json"));
  const bool foreign = QFileInfo(dir).isDir() && !study && !QDir(dir).isEmpty();
  const bool file = QFileInfo::exists(dir) && !QFileInfo(dir).isDir();
  m_ok->setEnabled(!variants().isEmpty() && !dir.isEmpty() && !foreign && !file);
  if (file)
    m_note->setText(tr("%1 is a file, not a folder; choose a folder").arg(dir));
  else if (foreign)
    m_note->setText(tr("%1 holds something else; choose another folder").arg(dir));
  else if (study)
    m_note->setText(tr("Continues the study in this folder: its finished runs are kept and the rest trained, with "
                       "the settings it was started with (other settings are refused)"));
  else
    m_note->setText(tr("A new study"));
  m_ok->setToolTip(foreign || file ? m_note->text() : QString());
}

}  // namespace gex::ui
