// A count with its noun, singular or plural: "1 run", "3 runs". Qt's %n picks the plural form
// only through a loaded translation; the application ships none, so English is chosen here.
#pragma once

#include <QObject>
#include <QString>

namespace gex::ui {

// `one` and `many` hold %1 for the count: plural(n, "%1 run", "%1 runs").
inline QString plural(int n, const char* one, const char* many) {
  return QObject::tr(n == 1 ? one : many).arg(n);
}

}  // namespace gex::ui
