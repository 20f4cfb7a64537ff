#include "plot_style.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include <QEvent>
#include <QPointer>

namespace gex::ui {

namespace {

constexpr const char* kHintName = "gex-hint";

QCPItemText* find_hint(const QCustomPlot* plot) {
  for (int i = 0; i < plot->itemCount(); ++i)
    if (auto* t = qobject_cast<QCPItemText*>(plot->item(i)); t && t->objectName() == QLatin1String(kHintName))
      return t;
  return nullptr;
}

// The legend's last line when not every curve has room in it: "… and N more".
class OverflowItem : public QCPAbstractLegendItem {
 public:
  OverflowItem(QCPLegend* legend, QString text) : QCPAbstractLegendItem(legend), m_text(std::move(text)) {
    setSelectable(false);
  }
  QString text() const { return m_text; }

 protected:
  void draw(QCPPainter* painter) override {
    painter->setFont(mParentLegend->font());
    painter->setPen(QPen(mParentLegend->textColor()));
    painter->drawText(mRect, Qt::AlignLeft | Qt::AlignVCenter, m_text);
  }
  QSize minimumOuterSizeHint() const override {
    const QFontMetrics fm(mParentLegend->font());
    return QSize(fm.horizontalAdvance(m_text), fm.height()).grownBy(mMargins);
  }

 private:
  QString m_text;
};

// A curve's legend entry that elides its name in the middle where the plot is narrower than the
// name, so that both ends show (a run's model and its time) instead of its start cut at the edge.
class ElidingLegendItem : public QCPPlottableLegendItem {
 public:
  ElidingLegendItem(QCPLegend* legend, QCPAbstractPlottable* plottable) : QCPPlottableLegendItem(legend, plottable) {}
  void setMaximumWidth(int width) { m_maximum = width; }
  // The name as it fits the entry's room.
  QString shownName() const {
    if (!mPlottable) return {};
    return QFontMetrics(getFont()).elidedText(mPlottable->name(), Qt::ElideMiddle, mRect.right() + 1 - textX());
  }

 protected:
  // The icon as QCPPlottableLegendItem draws it (its text clipped away), then the name elided
  // where it draws its text.
  void draw(QCPPainter* painter) override {
    if (!mPlottable) return;
    const QSize icon = mParentLegend->iconSize();
    painter->save();
    painter->setClipRect(QRect(mRect.topLeft(), icon), Qt::IntersectClip);
    QCPPlottableLegendItem::draw(painter);
    painter->restore();
    painter->setFont(getFont());
    painter->setPen(QPen(getTextColor()));
    const int x = textX();
    painter->drawText(QRect(x, mRect.y(), mRect.right() + 1 - x, std::max(painter->fontMetrics().height(), icon.height())),
                      Qt::AlignLeft | Qt::AlignTop, shownName());
  }
  QSize minimumOuterSizeHint() const override {
    QSize size = QCPPlottableLegendItem::minimumOuterSizeHint();
    if (m_maximum > 0) size.setWidth(std::min(size.width(), m_maximum));
    return size;
  }

 private:
  int textX() const { return mRect.x() + mParentLegend->iconSize().width() + mParentLegend->iconTextPadding(); }
  int m_maximum = 0;  // outer width, margins included; 0: the name's
};

// Lays the legend out in as many columns as the plot's width has room for, in at most a third of
// its height: curves beyond that (dozens of runs checked) leave the legend, summed up in its last
// line, so that the axes keep their room; the pointer's readout still names them.
class LegendWrapper : public QObject {
 public:
  explicit LegendWrapper(QCustomPlot* plot) : QObject(plot), m_plot(plot) {}
  bool eventFilter(QObject*, QEvent* e) override {
    if (e->type() == QEvent::Resize || e->type() == QEvent::LayoutRequest) rewrap();
    return false;
  }
  void rewrap() {
    QCPLegend* legend = m_plot->legend;
    // The curves left out last time come back first (in their order, at the end), then the
    // legend is cut again to the room there is now.
    if (m_overflow && legend->hasItem(m_overflow)) legend->removeItem(m_overflow);
    m_overflow = nullptr;
    for (const auto& p : std::as_const(m_left)) if (p) legend->addItem(new ElidingLegendItem(legend, p));
    m_left.clear();
    // An empty legend in the layout shrinks the axes to its own width (a grid column takes the
    // smallest maximum of its elements): it is in the layout only while it has items.
    auto* layout = m_plot->plotLayout();
    const bool placed = layout->hasElement(layout->rowCount() - 1, 0) &&
                        layout->element(layout->rowCount() - 1, 0) == m_plot->legend;
    if (m_plot->legend->itemCount() == 0 && placed) {
      layout->take(m_plot->legend);
      layout->simplify();
    } else if (m_plot->legend->itemCount() > 0 && !placed) {
      const int row = layout->rowCount();
      layout->insertRow(row);
      layout->addElement(row, 0, m_plot->legend);
      layout->setRowStretchFactor(row, 0.001);
    }
    elide_entries(legend);
    const QFontMetrics fm(m_plot->legend->font());
    int widest = 80;
    for (int i = 0; i < m_plot->legend->itemCount(); ++i)
      if (auto* item = qobject_cast<QCPPlottableLegendItem*>(m_plot->legend->item(i)))
        widest = std::max(widest, fm.horizontalAdvance(item->plottable()->name()) + 50);
    const int columns = std::max(1, m_plot->width() / std::min(widest, std::max(1, m_plot->width())));
    const int rowHeight = fm.height() + legend->rowSpacing() + 2;
    const int rows = std::max(2, m_plot->height() / 3 / rowHeight);
    if (const int count = legend->itemCount(); count > columns * rows) {
      const int kept = columns * rows - 1;
      for (int i = count - 1; i >= kept; --i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) {
          m_left.prepend(item->plottable());
          item->plottable()->removeFromLegend(legend);
        }
      m_overflow = new OverflowItem(legend, QObject::tr("… and %1 more (the pointer's readout names them)")
                                                .arg(m_left.size()));
      legend->addItem(m_overflow);
    }
    if (legend->wrap() != columns || legend->columnCount() > columns || m_overflow) {
      legend->setWrap(columns);
      legend->setFillOrder(QCPLegend::foColumnsFirst, true);  // re-lays the items out
      if (!m_overflow) m_plot->replot(QCustomPlot::rpQueuedReplot);
    }
  }

 private:
  // Every curve's entry an eliding one (addToLegend makes plain ones: all replaced, to keep their
  // order, only when a curve was added), at most as wide as the legend's row.
  void elide_entries(QCPLegend* legend) const {
    const int room = m_plot->width() - legend->margins().left() - legend->margins().right();
    QList<QCPAbstractPlottable*> plain;
    bool replace = false;
    for (int i = 0; i < legend->itemCount(); ++i)
      if (auto* item = qobject_cast<QCPPlottableLegendItem*>(legend->item(i))) {
        plain.push_back(item->plottable());
        replace |= dynamic_cast<ElidingLegendItem*>(item) == nullptr;
      }
    if (replace) {
      for (auto* p : std::as_const(plain)) p->removeFromLegend(legend);
      for (auto* p : std::as_const(plain)) legend->addItem(new ElidingLegendItem(legend, p));
    }
    for (int i = 0; i < legend->itemCount(); ++i)
      if (auto* item = dynamic_cast<ElidingLegendItem*>(legend->item(i))) item->setMaximumWidth(room);
  }

  QCustomPlot* m_plot;
  QList<QPointer<QCPAbstractPlottable>> m_left;  // curves the legend has no room for, in order
  OverflowItem* m_overflow = nullptr;             // owned by the legend while in it
};

class PaletteFollower : public QObject {
 public:
  PaletteFollower(QCustomPlot* plot, std::function<void()> restyle)
      : QObject(plot), m_plot(plot), m_restyle(std::move(restyle)) {}
  bool eventFilter(QObject*, QEvent* e) override {
    if (e->type() == QEvent::PaletteChange || e->type() == QEvent::ApplicationPaletteChange) {
      apply_palette(m_plot);
      if (m_restyle) m_restyle();
      m_plot->replot(QCustomPlot::rpQueuedReplot);
    }
    return false;
  }

 private:
  QCustomPlot* m_plot;
  std::function<void()> m_restyle;
};

}  // namespace

void apply_palette(QCustomPlot* plot) {
  const QPalette p = plot->palette();
  const QColor text = p.color(QPalette::WindowText), base = p.color(QPalette::Base);
  QColor grid = text;
  grid.setAlpha(45);
  plot->setBackground(base);
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis, plot->xAxis2, plot->yAxis2}) {
    axis->setBasePen(QPen(text, 1));
    axis->setTickPen(QPen(text, 1));
    axis->setSubTickPen(QPen(text, 1));
    axis->setTickLabelColor(text);
    axis->setLabelColor(text);
    axis->grid()->setPen(QPen(grid, 1, Qt::DotLine));
    axis->grid()->setZeroLinePen(Qt::NoPen);
  }
  plot->legend->setBrush(base);
  plot->legend->setTextColor(text);
  plot->legend->setBorderPen(Qt::NoPen);
  for (int i = 0; i < plot->plotLayout()->elementCount(); ++i)
    if (auto* title = qobject_cast<QCPTextElement*>(plot->plotLayout()->elementAt(i))) title->setTextColor(text);
  if (auto* h = find_hint(plot)) h->setColor(p.color(QPalette::PlaceholderText));
}

void follow_palette(QCustomPlot* plot, std::function<void()> restyle) {
  apply_palette(plot);
  plot->installEventFilter(new PaletteFollower(plot, std::move(restyle)));
}

void legend_below(QCustomPlot* plot) {
  // The legend lives in the axis rect's inset layout by default: take it out; the wrapper puts
  // it in a row of its own under the axes whenever it has items.
  if (auto* inset = plot->axisRect()->insetLayout(); inset->elementCount() > 0 && inset->elementAt(0) == plot->legend)
    inset->take(plot->legend);
  plot->legend->setFillOrder(QCPLegend::foColumnsFirst);
  plot->legend->setMargins(QMargins(4, 0, 4, 2));
  auto* wrapper = new LegendWrapper(plot);
  plot->installEventFilter(wrapper);
  QObject::connect(plot, &QCustomPlot::beforeReplot, wrapper, &LegendWrapper::rewrap);
  // The layout's own minimum (the widest legend row) would make the window as wide as the
  // legend: a fixed, modest minimum instead; the legend wraps to the width there is.
  if (plot->minimumWidth() == 0) plot->setMinimumSize(220, 160);
}

QString legend_entry_text(QCustomPlot* plot, int i) {
  auto* item = plot->legend->item(i);
  if (auto* eliding = dynamic_cast<ElidingLegendItem*>(item)) return eliding->shownName();
  if (auto* overflow = dynamic_cast<OverflowItem*>(item)) return overflow->text();
  if (auto* entry = qobject_cast<QCPPlottableLegendItem*>(item)) return entry->plottable()->name();
  return {};
}

void set_hint(QCustomPlot* plot, const QString& text) {
  QCPItemText* h = find_hint(plot);
  if (!h) {
    h = new QCPItemText(plot);
    h->setObjectName(QString::fromLatin1(kHintName));
    h->position->setType(QCPItemPosition::ptAxisRectRatio);
    h->position->setCoords(0.5, 0.5);
    h->setPositionAlignment(Qt::AlignCenter);
    h->setTextAlignment(Qt::AlignCenter);
    h->setClipToAxisRect(false);
    h->setColor(plot->palette().color(QPalette::PlaceholderText));
  }
  // Broken into short lines: the hint has to fit a narrow plot too.
  QString wrapped, line;
  for (const QString& word : text.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
    if (!line.isEmpty() && line.size() + word.size() > 32) wrapped += line + QLatin1Char('\n'), line.clear();
    line += (line.isEmpty() ? QString() : QStringLiteral(" ")) + word;
  }
  h->setText(wrapped + line);
  const bool idle = !text.isEmpty();
  h->setVisible(idle);
  plot->legend->setVisible(!idle && plot->legend->itemCount() > 0);
  for (QCPAxis* axis : {plot->xAxis, plot->yAxis}) axis->setTickLabels(!idle);
}

QString hint(const QCustomPlot* plot) {
  const QCPItemText* h = find_hint(plot);
  return h && h->visible() ? h->text().replace(QLatin1Char('\n'), QLatin1Char(' ')) : QString();
}

void mark_if_sparse(QCPGraph* graph, int points, const QColor& colour) {
  if (points <= 25) graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, colour, colour, 5));
  else graph->setScatterStyle(QCPScatterStyle());
}

void add_band(QCustomPlot* plot, const QVector<double>& x, const QVector<double>& lo, const QVector<double>& hi,
              QColor colour) {
  auto* low = plot->addGraph();
  auto* high = plot->addGraph();
  for (QCPGraph* g : {low, high}) {
    g->setPen(Qt::NoPen);
    g->removeFromLegend();
  }
  low->setData(x, lo, true);
  high->setData(x, hi, true);
  colour.setAlpha(45);
  high->setBrush(colour);
  high->setChannelFillGraph(low);
}

QColor run_color(int index) {
  // Tableau 10: distinguishable and colour-blind aware.
  static const QColor colours[] = {QColor(0x1f, 0x77, 0xb4), QColor(0xd6, 0x27, 0x28), QColor(0x2c, 0xa0, 0x2c),
                                   QColor(0xff, 0x7f, 0x0e), QColor(0x94, 0x67, 0xbd), QColor(0x8c, 0x56, 0x4b),
                                   QColor(0xe3, 0x77, 0xc2), QColor(0x7f, 0x7f, 0x7f), QColor(0xbc, 0xbd, 0x22),
                                   QColor(0x17, 0xbe, 0xcf)};
  static_assert(std::size(colours) == kRunColours);
  return colours[((index % kRunColours) + kRunColours) % kRunColours];
}

QString block_stem(const QStringList& blocks) {
  if (blocks.isEmpty()) return {};
  const QString& first = blocks.front();
  const QString stem = first.left(int(std::find_if(first.begin(), first.end(), [](QChar c) { return !c.isLetter(); }) -
                                      first.begin()));
  for (const QString& b : blocks)
    if (!b.startsWith(stem) || b.size() == stem.size()) return {};
  return stem;
}

}  // namespace gex::ui
