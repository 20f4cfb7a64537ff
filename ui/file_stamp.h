// What tells a views' poll that a file another process writes has changed: its modification time
// and its size, compared as a pair (folding them into one number let two different states collide).
#pragma once

#include <QFileInfo>
#include <QString>

namespace gex::ui {

struct FileStamp {
  qint64 msecs = -1;  // -1: never looked; 0: no file
  qint64 size = -1;
  bool exists() const { return msecs > 0; }
  bool operator==(const FileStamp& o) const { return msecs == o.msecs && size == o.size; }
};

inline FileStamp file_stamp(const QString& path) {
  const QFileInfo info(path);
  if (path.isEmpty() || !info.exists()) return {0, 0};
  return {info.lastModified().toMSecsSinceEpoch(), info.size()};
}

}  // namespace gex::ui
