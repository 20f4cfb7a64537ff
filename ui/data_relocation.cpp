#include "data_relocation.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>

#include "errors.h"
#include "run_catalog.h"
#include "train/run_dir.h"
#include "train/run_lock.h"

namespace gex::ui {

QString ask_where_data_is(QWidget* parent, const QString& question, const QString& place) {
  const QString near = QFileInfo(place).absolutePath();
  return QFileDialog::getExistingDirectory(parent, question, QFileInfo::exists(near) ? near : QDir::homePath());
}

Relocation relocate_data(const RunCatalog& catalog, const std::string& from, const std::string& to) {
  Relocation out;
  for (const RunRecord& r : catalog.runs()) {
    if (!r.readable || r.config.data != from) continue;
    if (r.shipped || !QFileInfo(r.path + QStringLiteral("/run.json")).isWritable()) {
      out.skipped << QObject::tr("%1: read-only").arg(r.name);
      continue;
    }
    if (r.live()) {
      out.skipped << QObject::tr("%1: being trained (resume it with its data's new place when it stops)").arg(r.name);
      continue;
    }
    try {
      const RunLock lock(r.path.toStdString());  // refused while another process writes it
      RunDirectory run = RunDirectory::open(r.path.toStdString());
      TrainConfig config = run.config();
      config.data = to;
      run.set_config(config, run.device());
      out.recorded << r.name;
    } catch (const Error& e) {
      out.skipped << QObject::tr("%1: %2").arg(r.name, QString::fromStdString(e.what()));
    }
  }
  return out;
}

}  // namespace gex::ui
