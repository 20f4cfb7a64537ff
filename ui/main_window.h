// The main window of GE Explorer. For now a bare frame with the views to come (DESIGN §5).
#pragma once

#include <QMainWindow>

class QCustomPlot;
class QTabWidget;

namespace gex::ui {

class MainWindow : public QMainWindow {
  Q_OBJECT

 public:
  explicit MainWindow(QWidget* parent = nullptr);
  // Selects a view by its name (train, curves, gates, selectivity, pruning, compare).
  bool showView(const QString& name);
  static QStringList viewNames();

 private:
  QTabWidget* m_views;
};

}  // namespace gex::ui
