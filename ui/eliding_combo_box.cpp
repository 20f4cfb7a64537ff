#include "eliding_combo_box.h"

#include <QAbstractItemView>
#include <QStyleOptionComboBox>
#include <QStylePainter>

namespace gex::ui {

ElidingComboBox::ElidingComboBox(QWidget* parent) : QComboBox(parent) {
  view()->setTextElideMode(Qt::ElideMiddle);  // when even the screen is too narrow for an entry
}

QRect ElidingComboBox::textRect() const {
  QStyleOptionComboBox option;
  initStyleOption(&option);
  return style()->subControlRect(QStyle::CC_ComboBox, &option, QStyle::SC_ComboBoxEditField, this);
}

QString ElidingComboBox::shownText() const {
  const int iconWidth = itemIcon(currentIndex()).isNull() ? 0 : iconSize().width() + 4;
  return fontMetrics().elidedText(currentText(), Qt::ElideMiddle, textRect().width() - iconWidth);
}

void ElidingComboBox::paintEvent(QPaintEvent*) {
  QStylePainter painter(this);
  painter.setPen(palette().color(QPalette::Text));
  QStyleOptionComboBox option;
  initStyleOption(&option);
  painter.drawComplexControl(QStyle::CC_ComboBox, option);
  option.currentText = shownText();
  painter.drawControl(QStyle::CE_ComboBoxLabel, option);
}

}  // namespace gex::ui
