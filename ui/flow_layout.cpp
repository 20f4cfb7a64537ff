#include "flow_layout.h"

#include <QWidget>

#include <algorithm>
#include <vector>

namespace gex::ui {

FlowLayout::FlowLayout(QWidget* parent) : QLayout(parent) {}

FlowLayout::~FlowLayout() {
  while (QLayoutItem* item = takeAt(0)) delete item;
}

void FlowLayout::addItem(QLayoutItem* item) {
  m_items.push_back(item);
  invalidate();
}

QLayoutItem* FlowLayout::takeAt(int index) {
  if (index < 0 || index >= m_items.size()) return nullptr;
  QLayoutItem* item = m_items.takeAt(index);
  invalidate();
  return item;
}

int FlowLayout::heightForWidth(int width) const { return arrange(QRect(0, 0, width, 0), false); }

QSize FlowLayout::minimumSize() const {
  QSize size;
  for (const QLayoutItem* item : m_items)
    if (!item->isEmpty()) size = size.expandedTo(item->minimumSize());
  const QMargins m = contentsMargins();
  return size + QSize(m.left() + m.right(), m.top() + m.bottom());
}

QSize FlowLayout::sizeHint() const {
  int width = 0, height = 0, shown = 0;
  for (const QLayoutItem* item : m_items) {
    if (item->isEmpty()) continue;
    width += item->sizeHint().width() + (shown++ > 0 ? gap() : 0);
    height = std::max(height, item->sizeHint().height());
  }
  const QMargins m = contentsMargins();
  return {width + m.left() + m.right(), height + m.top() + m.bottom()};
}

void FlowLayout::setGeometry(const QRect& rect) {
  QLayout::setGeometry(rect);
  arrange(rect, true);
}

int FlowLayout::arrange(const QRect& rect, bool move) const {
  const QRect area = rect.marginsRemoved(contentsMargins());
  // Rows of (item, width) filled left to right; an item wider than the area gets the area's
  // width (at least its minimum), and the height it needs at that width (a wrapped label).
  const auto height_at = [](const QLayoutItem* item, int width) {
    return item->hasHeightForWidth() ? item->heightForWidth(width) : item->sizeHint().height();
  };
  struct Row {
    std::vector<std::pair<QLayoutItem*, int>> items;
    int width = 0, height = 0;
  };
  std::vector<Row> rows(1);
  for (QLayoutItem* item : m_items) {
    if (item->isEmpty()) continue;
    const int width = std::max(item->minimumSize().width(), std::min(item->sizeHint().width(), area.width()));
    Row* row = &rows.back();
    if (!row->items.empty() && row->width + gap() + width > area.width()) row = &rows.emplace_back();
    row->width += (row->items.empty() ? 0 : gap()) + width;
    row->height = std::max(row->height, height_at(item, width));
    row->items.emplace_back(item, width);
  }
  int y = area.y();
  for (const Row& row : rows) {
    if (row.items.empty()) continue;
    int x = area.x();
    for (const auto& [item, width] : row.items) {
      const int height = std::min(row.height, height_at(item, width));
      if (move) item->setGeometry(QRect(x, y + (row.height - height) / 2, width, height));
      x += width + gap();
    }
    y += row.height + gap();
  }
  const QMargins m = contentsMargins();
  return std::max(0, y - gap() - area.y()) + m.top() + m.bottom();
}

}  // namespace gex::ui
