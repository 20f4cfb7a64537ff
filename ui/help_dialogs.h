// The Help menu's two dialogs: what GE Explorer is and is built with, and its keyboard shortcuts.
#pragma once

class QMenuBar;
class QWidget;

namespace gex::ui {

void show_about(QWidget* parent);

// Every shortcut of the actions in `menus`' menus, and those no menu holds (they live on a view).
void show_shortcuts(QWidget* parent, const QMenuBar* menus);

}  // namespace gex::ui
