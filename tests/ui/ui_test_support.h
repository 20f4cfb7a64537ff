// Shared by the offscreen UI tests: waiting on the event loop, and scratch folders.
#pragma once

#include <QApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QSet>
#include <QTemporaryDir>
#include <QTimer>

#include <functional>

namespace gex::ui::test {

// Runs the event loop until `done` or `ms` pass; returns done().
// Sleeps in the event loop between checks: a busy loop here would steal a core from the
// worker threads under test.
inline bool wait_until(const std::function<bool()>& done, int ms = 60000) {
  QElapsedTimer t;
  t.start();
  QTimer tick;
  tick.start(20);
  while (!done() && t.elapsed() < ms) QApplication::processEvents(QEventLoop::WaitForMoreEvents);
  return done();
}

// Distinct colours in the image: a blank or single-colour render has one or two.
inline int distinct_colours(const QImage& image) {
  QSet<QRgb> seen;
  for (int y = 0; y < image.height(); y += 3)
    for (int x = 0; x < image.width(); x += 3) seen.insert(image.pixel(x, y));
  return seen.size();
}

}  // namespace gex::ui::test
