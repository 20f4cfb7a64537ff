#include "window_geometry.h"

#include <QDataStream>
#include <QWidget>

namespace gex::ui {

GeometryRestore restore_window_geometry(QWidget& window, const QByteArray& saved) {
  if (window.restoreGeometry(saved)) return GeometryRestore::kRestored;
  // Qt also refuses a well-formed geometry saved on a screen more than a quarter narrower or wider
  // than this one (or by a newer Qt): nothing is wrong with the file then, only the screen changed.
  QDataStream in(saved);
  in.setVersion(QDataStream::Qt_4_0);  // as QWidget::saveGeometry writes it
  quint32 magic = 0;
  in >> magic;
  constexpr quint32 kQtGeometryMagic = 0x1D9D0CB;
  return in.status() == QDataStream::Ok && magic == kQtGeometryMagic ? GeometryRestore::kOtherScreen
                                                                     : GeometryRestore::kUnreadable;
}

}  // namespace gex::ui
