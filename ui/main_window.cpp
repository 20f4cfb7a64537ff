#include "main_window.h"

#include "qcp.h"

#include <QLabel>
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
  for (const auto& name : viewNames()) {
    auto* page = new QWidget(m_views);
    auto* layout = new QVBoxLayout(page);
    auto* plot = new QCustomPlot(page);
    plot->xAxis->setLabel(QStringLiteral("epoch"));
    plot->yAxis->setLabel(QStringLiteral("top-1 error"));
    layout->addWidget(plot);
    layout->addWidget(new QLabel(tr("This view is not built yet."), page));
    QString title = name;
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
