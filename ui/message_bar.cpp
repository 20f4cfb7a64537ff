#include "message_bar.h"

#include <QApplication>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QStyle>
#include <QToolButton>

namespace gex::ui {

namespace {

QColor mix(const QColor& a, const QColor& b, double t) {
  return QColor::fromRgbF(a.redF() * (1 - t) + b.redF() * t, a.greenF() * (1 - t) + b.greenF() * t,
                          a.blueF() * (1 - t) + b.blueF() * t);
}

// The hue of each kind (KDE's Breeze colours), mixed into the window background so the bar reads
// as part of the window in light and dark themes.
QColor hue(MessageKind kind) {
  switch (kind) {
    case MessageKind::kInformation: return QColor(0x3d, 0xae, 0xe9);
    case MessageKind::kPositive: return QColor(0x27, 0xae, 0x60);
    case MessageKind::kWarning: return QColor(0xf6, 0x74, 0x00);
    case MessageKind::kError: return QColor(0xda, 0x44, 0x53);
  }
  return QColor(0x3d, 0xae, 0xe9);
}

QStyle::StandardPixmap icon(MessageKind kind) {
  switch (kind) {
    case MessageKind::kInformation: return QStyle::SP_MessageBoxInformation;
    case MessageKind::kPositive: return QStyle::SP_DialogApplyButton;
    case MessageKind::kWarning: return QStyle::SP_MessageBoxWarning;
    case MessageKind::kError: return QStyle::SP_MessageBoxCritical;
  }
  return QStyle::SP_MessageBoxInformation;
}

}  // namespace

QString to_string(MessageKind kind) {
  switch (kind) {
    case MessageKind::kInformation: return QObject::tr("information");
    case MessageKind::kPositive: return QObject::tr("done");
    case MessageKind::kWarning: return QObject::tr("warning");
    case MessageKind::kError: return QObject::tr("error");
  }
  return {};
}

QColor MessageBar::background(MessageKind kind, const QPalette& palette) {
  return mix(palette.color(QPalette::Window), hue(kind), 0.25);
}

MessageBar::MessageBar(QWidget* parent)
    : QWidget(parent),
      m_icon(new QLabel(this)),
      m_text(new QLabel(this)),
      m_action(new QToolButton(this)),
      m_close(new QToolButton(this)) {
  setAutoFillBackground(true);
  m_text->setWordWrap(true);
  m_text->setTextInteractionFlags(Qt::TextSelectableByMouse);
  m_close->setText(QStringLiteral("✕"));
  m_close->setAutoRaise(true);
  m_close->setToolTip(tr("Dismiss"));
  m_close->setAccessibleName(tr("Dismiss the message"));
  m_action->setVisible(false);
  auto* layout = new QHBoxLayout(this);
  layout->setContentsMargins(8, 4, 4, 4);
  layout->addWidget(m_icon);
  layout->addWidget(m_text, 1);
  layout->addWidget(m_action);
  layout->addWidget(m_close);
  connect(m_close, &QToolButton::clicked, this, &QWidget::hide);
  connect(m_action, &QToolButton::clicked, this, &MessageBar::triggerAction);
  hide();
}

void MessageBar::show(const QString& text, MessageKind kind, const QString& actionText,
                      std::function<void()> action) {
  m_kind = kind;
  m_text->setText(text);
  m_onAction = std::move(action);
  m_action->setText(actionText);
  m_action->setVisible(m_onAction != nullptr);
  m_history.append({QDateTime::currentDateTime(), kind, text});
  while (m_history.size() > 100) m_history.removeFirst();
  restyle();
  QWidget::show();
  Q_EMIT historyChanged();
}

QString MessageBar::text() const { return isHidden() ? QString() : m_text->text(); }

void MessageBar::triggerAction() {
  auto action = std::exchange(m_onAction, nullptr);
  m_action->setVisible(false);
  hide();
  if (action) action();
}

void MessageBar::restyle() {
  // From the surroundings' palette, not our own (which holds the last kind's colour).
  QPalette p = parentWidget() ? parentWidget()->palette() : QApplication::palette();
  p.setColor(QPalette::Window, background(m_kind, p));
  setPalette(p);
  const int size = style()->pixelMetric(QStyle::PM_SmallIconSize, nullptr, this);
  m_icon->setPixmap(style()->standardIcon(icon(m_kind), nullptr, this).pixmap(size, size));
  m_icon->setAccessibleName(to_string(m_kind));
}

void MessageBar::changeEvent(QEvent* e) {
  QWidget::changeEvent(e);
  // The application's palette changed (light ↔ dark): our own setPalette lands here too.
  const auto t = e->type();
  if (t == QEvent::StyleChange || t == QEvent::ApplicationPaletteChange || (t == QEvent::PaletteChange && !m_restyling)) {
    m_restyling = true;
    restyle();
    m_restyling = false;
  }
}

MessageHistory::MessageHistory(const MessageBar* bar, QWidget* parent) : QListWidget(parent) {
  setWordWrap(true);
  auto* none = new QListWidgetItem(tr("No messages yet: what the bar above the views says is kept here, newest first."), this);
  none->setFlags(Qt::NoItemFlags);  // (greyed; the first message replaces it)
  connect(bar, &MessageBar::historyChanged, this, [this, bar] {
    const Message& m = bar->history().back();
    auto* item = new QListWidgetItem(QStringLiteral("%1  %2: %3")
                                         .arg(QLocale().toString(m.time.time(), QLocale::ShortFormat), to_string(m.kind), m.text));
    item->setBackground(MessageBar::background(m.kind, palette()));
    if (count() == 1 && this->item(0)->flags() == Qt::NoItemFlags) delete takeItem(0);
    insertItem(0, item);
    while (count() > 100) delete takeItem(count() - 1);
  });
}

QSize MessageHistory::sizeHint() const {
  return {QListWidget::sizeHint().width(), 6 * fontMetrics().lineSpacing() + 2 * frameWidth()};
}

}  // namespace gex::ui
