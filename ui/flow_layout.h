// Widgets in a row that wraps onto further rows where the width runs out — a view's controls in a
// narrow window — instead of making the window (or its scroll area) as wide as all of them.
#pragma once

#include <QLayout>
#include <QList>

namespace gex::ui {

class FlowLayout : public QLayout {
 public:
  explicit FlowLayout(QWidget* parent = nullptr);
  ~FlowLayout() override;

  void addItem(QLayoutItem* item) override;
  int count() const override { return static_cast<int>(m_items.size()); }
  QLayoutItem* itemAt(int index) const override { return m_items.value(index); }
  QLayoutItem* takeAt(int index) override;

  Qt::Orientations expandingDirections() const override { return {}; }
  bool hasHeightForWidth() const override { return true; }
  int heightForWidth(int width) const override;
  QSize minimumSize() const override;  // the widest item: everything else can wrap
  QSize sizeHint() const override;     // all in one row
  void setGeometry(const QRect& rect) override;

 private:
  int gap() const { return spacing() >= 0 ? spacing() : 6; }
  // Lays the items out in `rect` (or only measures, move = false); returns the height used.
  int arrange(const QRect& rect, bool move) const;
  QList<QLayoutItem*> m_items;
};

}  // namespace gex::ui
