// A combo box whose text, where it is wider than the box, is elided in the middle rather than cut
// at the right: a run's name keeps its study at the front and its variant and seed at the end
// ("resnet20-fash…theta-e4 · seed-1"); its tooltip then begins with the whole text.
#pragma once

#include <QComboBox>

class QStyleOptionComboBox;

namespace gex::ui {

class ElidingComboBox : public QComboBox {
  Q_OBJECT

 public:
  explicit ElidingComboBox(QWidget* parent = nullptr);
  // The text as the box shows it now (elided or whole).
  QString shownText() const;
  // What hovering shows: the box's own tooltip, after the whole text where the box elides it.
  QString fullToolTip() const;

 protected:
  void paintEvent(QPaintEvent* event) override;
  bool event(QEvent* event) override;

 private:
  // The option's text elided to the box's text field.
  QString elided(const QStyleOptionComboBox& option) const;
};

}  // namespace gex::ui
