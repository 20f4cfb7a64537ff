#include "data_relocation.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>

#include "data/dataset.h"
#include "errors.h"
#include "run_catalog.h"
#include "train/trainer.h"

namespace gex::ui {

QString ask_where_data_is(QWidget* parent, QString run, std::string data, const std::function<void(const QString&)>& say) {
  const DataSpec spec = parse_data_spec(data);
  const QString place = QString::fromStdString(spec.dir);
  const QString question = QObject::tr("%1's data is not at %2 any more: where is it now?").arg(run, place);
  say(question);
  const QString near = QFileInfo(place).absolutePath();
  const QString now = QFileDialog::getExistingDirectory(parent, question, QFileInfo::exists(near) ? near : QDir::homePath());
  return now.isEmpty() ? QString() : QString::fromStdString(spec.kind) + QLatin1Char(':') + now;
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
      record_data_place(r.path.toStdString(), to);
      out.recorded << r.name;
    } catch (const Error& e) {
      out.skipped << QObject::tr("%1: %2").arg(r.name, QString::fromStdString(e.what()));
    }
  }
  return out;
}

}  // namespace gex::ui
