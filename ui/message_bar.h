// Messages for the user, in kinds like KDE's KMessageWidget: information, positive (a success),
// warning and error, each drawn in colours taken from the palette (light and dark alike), with an
// optional action (Undo) and a history of the recent messages.
#pragma once

#include <QDateTime>
#include <QList>
#include <QListWidget>
#include <QWidget>

#include <functional>

class QLabel;
class QToolButton;

namespace gex::ui {

enum class MessageKind { kInformation, kPositive, kWarning, kError };

struct Message {
  QDateTime time;
  MessageKind kind = MessageKind::kInformation;
  QString text;
};

class MessageBar : public QWidget {
  Q_OBJECT

 public:
  explicit MessageBar(QWidget* parent = nullptr);

  // Shows `text` until dismissed or replaced; with `actionText`, a button that runs `action` once.
  void show(const QString& text, MessageKind kind, const QString& actionText = {},
            std::function<void()> action = nullptr);
  QString text() const;  // empty when hidden
  MessageKind kind() const { return m_kind; }
  const QList<Message>& history() const { return m_history; }  // newest last, at most 100
  void triggerAction();                                         // as if its button were clicked

  // The background and text colour of a kind in `palette`.
  static QColor background(MessageKind kind, const QPalette& palette);

 Q_SIGNALS:
  void historyChanged();

 protected:
  void changeEvent(QEvent* e) override;

 private:
  void restyle();
  QLabel* m_icon;
  QLabel* m_text;
  QToolButton* m_action;
  QToolButton* m_close;
  MessageKind m_kind = MessageKind::kInformation;
  std::function<void()> m_onAction;
  QList<Message> m_history;
  bool m_restyling = false;
};

// The Messages panel: what `bar` said, newest first (at most 100), each in its kind's colour; a
// greyed line until the first message. About six lines tall when first shown (a list's own size
// hint, 192 px, took a third of a laptop screen's window from the views).
class MessageHistory : public QListWidget {
  Q_OBJECT

 public:
  explicit MessageHistory(const MessageBar* bar, QWidget* parent = nullptr);
  QSize sizeHint() const override;
};

QString to_string(MessageKind kind);

}  // namespace gex::ui
