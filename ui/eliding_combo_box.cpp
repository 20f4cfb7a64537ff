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

QString ElidingComboBox::elided(const QStyleOptionComboBox& option) const {
  const QRect field = style()->subControlRect(QStyle::CC_ComboBox, &option, QStyle::SC_ComboBoxEditField, this);
  const int iconWidth = option.currentIcon.isNull() ? 0 : option.iconSize.width() + 4;
  return fontMetrics().elidedText(option.currentText, Qt::ElideMiddle, field.width() - iconWidth);
}

QString ElidingComboBox::shownText() const {
  QStyleOptionComboBox option;
  initStyleOption(&option);
  return elided(option);
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
  option.currentText = elided(option);
  painter.drawControl(QStyle::CE_ComboBoxLabel, option);
}

}  // namespace gex::ui
