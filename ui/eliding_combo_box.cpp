#include "eliding_combo_box.h"

#include <QAbstractItemView>
#include <QHelpEvent>
#include <QStyleOptionComboBox>
#include <QStylePainter>
#include <QToolTip>

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

QString ElidingComboBox::fullToolTip() const {
  if (shownText() == currentText()) return toolTip();
  return toolTip().isEmpty() ? currentText() : currentText() + QLatin1Char('\n') + toolTip();
}

bool ElidingComboBox::event(QEvent* event) {
  if (event->type() != QEvent::ToolTip) return QComboBox::event(event);
  QToolTip::showText(static_cast<QHelpEvent*>(event)->globalPos(), fullToolTip(), this);
  return true;
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
