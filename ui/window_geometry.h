// The main window's saved geometry, put back as far as this screen allows.
#pragma once

#include <QByteArray>

class QWidget;

namespace gex::ui {

enum class GeometryRestore {
  kRestored,     // where and as large as it was
  kOtherScreen,  // saved on a screen of another size (a laptop off its monitor): the default size
  kUnreadable,   // not a saved geometry at all (a damaged settings file)
};

GeometryRestore restore_window_geometry(QWidget& window, const QByteArray& saved);

}  // namespace gex::ui
