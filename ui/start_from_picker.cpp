#include "start_from_picker.h"

#include <QFileDialog>
#include <QFileInfo>
#include <QSettings>
#include <QSignalBlocker>

#include "run_catalog.h"

namespace gex::ui {

namespace {
const QString kChoose = QStringLiteral("choose");
}

StartFromPicker::StartFromPicker(RunCatalog* catalog, QWidget* parent) : QComboBox(parent), m_catalog(catalog) {
  setObjectName(QStringLiteral("startFrom"));
  setToolTip(tr("Start from random weights, from a run's best checkpoint, or from a checkpoint file such as "
                "pretrained weights brought in with gex import (its weights only, not its optimiser; attention "
                "modules and a head it lacks are created)"));
  refresh();
  connect(m_catalog, &RunCatalog::runsChanged, this, &StartFromPicker::refresh);
  connect(this, &QComboBox::activated, this, &StartFromPicker::onActivated);
}

QString StartFromPicker::path() const {
  const QString data = currentData().toString();
  return data.startsWith(QLatin1Char('/')) ? data : QString();  // not "scratch" nor "choose…"
}

void StartFromPicker::setPath(const QString& path) {
  if (!path.isEmpty() && !m_files.contains(path) && QFileInfo::exists(path)) m_files << path;
  refresh();
  setCurrentIndex(std::max(0, path.isEmpty() ? 0 : findData(path)));
}

void StartFromPicker::refresh() {
  const QString current = path();
  QSignalBlocker block(this);
  clear();
  addItem(tr("scratch"), QString());
  for (const auto& r : m_catalog->runs())
    if (r.hasCheckpoint()) addItem(tr("run %1").arg(r.name), QFileInfo(r.bestCheckpoint()).absoluteFilePath());
  for (const QString& f : m_files)
    if (findData(f) < 0) addItem(QFileInfo(f).fileName(), f);
  addItem(tr("a checkpoint or imported weights…"), kChoose);
  const int i = current.isEmpty() ? 0 : findData(current);
  setCurrentIndex(std::max(0, i));
}

void StartFromPicker::onActivated(int index) {
  if (itemData(index).toString() == kChoose) {
    QSettings settings;
    const QString file = QFileDialog::getOpenFileName(this, tr("Start from a checkpoint"),
                                                      settings.value(QStringLiteral("dirs/checkpoints")).toString(),
                                                      tr("Checkpoints (*.safetensors)"));
    if (!file.isEmpty()) settings.setValue(QStringLiteral("dirs/checkpoints"), QFileInfo(file).absolutePath());
    setPath(file.isEmpty() ? QString() : QFileInfo(file).absoluteFilePath());
  }
  Q_EMIT picked();
}

}  // namespace gex::ui
