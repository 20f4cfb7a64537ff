#include "main_window.h"

#include "qcp.h"

#include <QStatusBar>
#include <QTabWidget>
#include <QVBoxLayout>

namespace gex::ui {

QStringList MainWindow::viewNames() {
  return {QStringLiteral("train"),       QStringLiteral("curves"),  QStringLiteral("gates"),
          QStringLiteral("selectivity"), QStringLiteral("pruning"), QStringLiteral("compare")};
}

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent), m_views(new QTabWidget(this)) {
  setWindowTitle(QStringLiteral("GE Explorer"));
  resize(1100, 720);
  const QStringList blurbs = {
      tr("Train baseline, SE and GE models with live curves."),
      tr("Optimisation curves of any runs, overlaid."),
      tr("Excite gate maps over your own images."),
      tr("Class selectivity per layer, baseline vs GE."),
      tr("Accuracy against the fraction of features pruned."),
      tr("A baseline and a GE run on one screen."),
  };
  const QStringList names = viewNames();
  for (int i = 0; i < names.size(); ++i) {
    auto* page = new QWidget(m_views);
    auto* layout = new QVBoxLayout(page);
    auto* plot = new QCustomPlot(page);
    plot->xAxis->setLabel(tr("epoch"));
    plot->yAxis->setLabel(tr("top-1 error (%)"));
    plot->xAxis->setRange(0, 10);
    plot->yAxis->setRange(0, 100);
    auto* note = new QCPItemText(plot);
    note->position->setType(QCPItemPosition::ptAxisRectRatio);
    note->position->setCoords(0.5, 0.45);
    note->setText(blurbs[i] + QStringLiteral("\n") + tr("This view arrives with the training release."));
    note->setFont(QFont(font().family(), font().pointSize() + 2));
    note->setColor(palette().color(QPalette::PlaceholderText));
    layout->addWidget(plot);
    QString title = names[i];
    title[0] = title[0].toUpper();
    m_views->addTab(page, title);
  }
  setCentralWidget(m_views);
  statusBar()->showMessage(tr("Ready"));
}

bool MainWindow::showView(const QString& name) {
  const int index = viewNames().indexOf(name);
  if (index < 0) return false;
  m_views->setCurrentIndex(index);
  return true;
}

}  // namespace gex::ui
