// A run whose data is not where its run.json says: moved, or on another machine's disk (runs
// copied from a cluster). The user is asked where it is now, and the new place is recorded.
#pragma once

#include <QString>
#include <QStringList>

#include <functional>
#include <string>

class QWidget;

namespace gex::ui {

class RunCatalog;

// Asks where the data of the run named `run`, recorded as `data` (folder:DIR …), is now: the
// question said through `say` too (not every desktop titles a dialog), the chooser opened beside the
// old place (a moved folder is often still beside where it was). The same kind of data at the
// folder chosen, or empty when declined. By value: the catalog may rescan while the dialog is open.
QString ask_where_data_is(QWidget* parent, QString run, std::string data, const std::function<void(const QString&)>& say);

struct Relocation {
  QStringList recorded;  // the runs that read their data from the new place now
  QStringList skipped;   // "name: why" (being written, read-only)
};

// Records `to` (the same kind of data: folder:DIR …) in the run.json of every run of `catalog`
// whose data is `from`: a study's runs share one place, and move together. A run being written
// (its writer alive), shipped or read-only is left as it is.
Relocation relocate_data(const RunCatalog& catalog, const std::string& from, const std::string& to);

}  // namespace gex::ui
