#include "help_dialogs.h"

#include <QAction>
#include <QDialog>
#include <QDialogButtonBox>
#include <QHeaderView>
#include <QKeySequence>
#include <QMenu>
#include <QMenuBar>
#include <QMessageBox>
#include <QTableWidget>
#include <QVBoxLayout>

#include <torch/version.h>

#include "io/image.h"

namespace gex::ui {

void show_about(QWidget* parent) {
  const QString codecs = QString::fromStdString(image_codec_version());
  QMessageBox::about(
      parent, QObject::tr("About GE Explorer"),
      QObject::tr("<h3>GE Explorer %1</h3>"
         "<p>Train and inspect Gather-Excite networks (Hu, Shen, Albanie, Sun, Vedaldi, NeurIPS 2018): optimisation "
         "curves, gate maps, class selectivity and pruning, a baseline against GE.</p>"
         "<p>Command-line twin: <code>gex --help</code></p>"
         "<p>Built with Qt %2 (running on %3), LibTorch %4, %5, QCustomPlot.</p>"
         "<p>Licence: MIT.</p>")
          .arg(QStringLiteral(GEX_VERSION), QStringLiteral(QT_VERSION_STR), QString::fromLatin1(qVersion()),
               QStringLiteral(TORCH_VERSION), codecs.isEmpty() ? QObject::tr("no image decoder") : codecs));
}

void show_shortcuts(QWidget* parent, const QMenuBar* menus) {
  QDialog dialog(parent);
  dialog.setWindowTitle(QObject::tr("Keyboard shortcuts"));
  auto* table = new QTableWidget(&dialog);
  QList<QPair<QString, QString>> rows;
  for (QAction* menu : menus->actions())
    for (QAction* a : menu->menu()->actions())
      if (!a->shortcut().isEmpty()) rows.append({a->text().remove(QLatin1Char('&')), a->shortcut().toString(QKeySequence::NativeText)});
  rows.append({QObject::tr("Start training (Train view)"), QKeySequence(QStringLiteral("Ctrl+Return")).toString(QKeySequence::NativeText)});
  rows.append({QObject::tr("Cancel the work in progress (analysis views)"), QKeySequence(Qt::Key_Escape).toString(QKeySequence::NativeText)});
  rows.append({QObject::tr("Move the selected run to the trash (run browser)"), QKeySequence(QKeySequence::Delete).toString(QKeySequence::NativeText)});
  table->setRowCount(int(rows.size()));
  table->setColumnCount(2);
  table->setHorizontalHeaderLabels({QObject::tr("Action"), QObject::tr("Shortcut")});
  for (int i = 0; i < rows.size(); ++i) {
    table->setItem(i, 0, new QTableWidgetItem(rows[i].first));
    table->setItem(i, 1, new QTableWidgetItem(rows[i].second));
  }
  table->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  table->verticalHeader()->hide();
  table->setEditTriggers(QAbstractItemView::NoEditTriggers);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close, &dialog);
  QObject::connect(buttons, &QDialogButtonBox::rejected, &dialog, &QDialog::reject);
  auto* layout = new QVBoxLayout(&dialog);
  layout->addWidget(table);
  layout->addWidget(buttons);
  dialog.resize(520, 420);
  dialog.exec();
}

}  // namespace gex::ui
