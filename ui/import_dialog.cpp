#include "import_dialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

namespace gex::ui {

namespace {

QWidget* with_browse(QLineEdit* edit, const std::function<void()>& browse, QWidget* parent) {
  auto* row = new QWidget(parent);
  auto* layout = new QHBoxLayout(row);
  layout->setContentsMargins(0, 0, 0, 0);
  auto* button = new QToolButton(row);
  button->setText(QStringLiteral("…"));
  button->setAccessibleName(QObject::tr("Choose a file"));
  QObject::connect(button, &QToolButton::clicked, row, browse);
  layout->addWidget(edit, 1);
  layout->addWidget(button);
  return row;
}

}  // namespace

ImportDialog::ImportDialog(const QString& runsDirectory, QWidget* parent)
    : QDialog(parent),
      m_runsDirectory(runsDirectory),
      m_from(new QLineEdit(this)),
      m_out(new QLineEdit(this)),
      m_classNames(new QLineEdit(this)),
      m_backbone(new QComboBox(this)),
      m_attention(new QComboBox(this)),
      m_variant(new QComboBox(this)),
      m_extent(new QComboBox(this)),
      m_strideOn(new QComboBox(this)),
      m_classes(new QSpinBox(this)),
      m_inputSize(new QSpinBox(this)),
      m_problem(new QLabel(this)) {
  setWindowTitle(tr("Import weights"));
  for (const auto& b : backbones())
    if (b.family == BackboneFamily::kResNetBasic || b.family == BackboneFamily::kResNetBottleneck)
      m_backbone->addItem(QString::fromLatin1(b.name));
  m_backbone->setCurrentText(QStringLiteral("resnet50"));
  m_attention->addItem(tr("as in the file (SE when it has SE modules)"), QString());
  m_attention->addItem(tr("none (baseline)"), QStringLiteral("none"));
  m_attention->addItem(tr("add SE"), QStringLiteral("se"));
  m_attention->addItem(tr("add GE"), QStringLiteral("ge"));
  m_variant->addItem(tr("GE-θ⁻ (parameter-free)"), QStringLiteral("theta-minus"));
  m_variant->addItem(tr("GE-θ (depthwise gather)"), QStringLiteral("theta"));
  m_variant->addItem(tr("GE-θ⁺ (gather + MLP)"), QStringLiteral("theta-plus"));
  for (const char* e : {"global", "2", "4", "8"}) m_extent->addItem(QString::fromLatin1(e));
  m_strideOn->addItem(tr("3×3 (torchvision, timm)"), QStringLiteral("3x3"));
  m_strideOn->addItem(tr("first 1×1 (the paper's)"), QStringLiteral("1x1"));
  m_classes->setRange(0, 100000);
  m_classes->setSpecialValueText(tr("the file's"));
  m_inputSize->setRange(16, 1024);
  m_inputSize->setValue(224);
  m_problem->setWordWrap(true);
  m_from->setToolTip(tr("A state dict: .safetensors (timm, model hubs) or .pth/.pt as torch.save writes it "
                        "(read without running anything in it)"));
  m_strideOn->setToolTip(tr("ResNet-50/101/152: torchvision and timm stride on the 3×3; the same tensors on the "
                            "paper's layout would load and compute something else"));
  m_classes->setToolTip(tr("Classes of the head; another number than the file's re-initialises the head"));
  m_classNames->setToolTip(tr("One class name per line (default: ImageNet's for a 1000-class head)"));

  auto* form = new QFormLayout;
  form->addRow(tr("Weights file"), with_browse(m_from, [this] {
                 QSettings settings;
                 const QString file = QFileDialog::getOpenFileName(
                     this, tr("Weights"), settings.value(QStringLiteral("dirs/weights")).toString(),
                     tr("State dicts (*.safetensors *.pth *.pt *.bin);;All files (*)"));
                 if (file.isEmpty()) return;
                 settings.setValue(QStringLiteral("dirs/weights"), QFileInfo(file).absolutePath());
                 setSource(file);
               }, this));
  form->addRow(tr("Backbone"), m_backbone);
  form->addRow(tr("Stride on"), m_strideOn);
  form->addRow(tr("Attention"), m_attention);
  form->addRow(tr("GE variant"), m_variant);
  form->addRow(tr("GE extent"), m_extent);
  form->addRow(tr("Classes"), m_classes);
  form->addRow(tr("Class names"), with_browse(m_classNames, [this] {
                 const QString file = QFileDialog::getOpenFileName(this, tr("Class names"), {}, tr("Text (*.txt);;All files (*)"));
                 if (!file.isEmpty()) m_classNames->setText(file);
               }, this));
  form->addRow(tr("Input size"), m_inputSize);
  form->addRow(tr("Save as"), m_out);
  auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
  buttons->button(QDialogButtonBox::Ok)->setText(tr("Import"));
  connect(buttons, &QDialogButtonBox::accepted, this, &ImportDialog::accept);
  connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
  const auto refresh = [this] {
    const bool ge = m_attention->currentData().toString() == QLatin1String("ge");
    m_variant->setEnabled(ge);
    m_extent->setEnabled(ge);
    m_strideOn->setEnabled(is_bottleneck_backbone(m_backbone->currentText().toStdString()));
    suggestOutput();
  };
  for (auto* c : {m_backbone, m_attention}) connect(c, &QComboBox::currentIndexChanged, this, refresh);
  // A path typed or pasted counts as chosen once the field is left.
  connect(m_from, &QLineEdit::editingFinished, this, [this] {
    if (m_from->isModified()) setSource(m_from->text().trimmed());
    m_from->setModified(false);
  });
  auto* layout = new QVBoxLayout(this);
  layout->addLayout(form);
  layout->addWidget(m_problem);
  layout->addWidget(buttons);
  refresh();
}

void ImportDialog::setSource(const QString& file) {
  m_from->setText(file);
  // torchvision's file names start with the architecture (resnet50-0676ba61.pth).
  const QString stem = QFileInfo(file).baseName().toLower();
  for (int i = 0; i < m_backbone->count(); ++i)
    if (stem.startsWith(m_backbone->itemText(i)) || stem.contains(QLatin1Char('_') + m_backbone->itemText(i)))
      m_backbone->setCurrentIndex(i);
  m_out->clear();
  suggestOutput();
}

void ImportDialog::suggestOutput() {
  if (!m_out->text().isEmpty() && !m_out->isModified()) m_out->clear();
  if (!m_out->text().isEmpty() || m_from->text().isEmpty()) return;
  QString name = QFileInfo(m_from->text()).baseName() + QLatin1Char('-') + m_backbone->currentText();
  if (const QString a = m_attention->currentData().toString(); a == QLatin1String("se") || a == QLatin1String("ge"))
    name += QLatin1Char('-') + a + (a == QLatin1String("ge") ? QLatin1Char('-') + m_variant->currentData().toString() : QString());
  m_out->setText(QDir(m_runsDirectory).filePath(QStringLiteral("imported/") + name + QStringLiteral(".safetensors")));
}

ImportOptions ImportDialog::options() const {
  ImportOptions o;
  o.from = m_from->text().trimmed().toStdString();
  o.model.backbone = m_backbone->currentText().toStdString();
  const QString attention = m_attention->currentData().toString();
  o.attention_given = !attention.isEmpty();
  o.model.attention = attention.isEmpty() ? AttentionKind::kNone : *parse_attention(attention.toStdString());
  o.model.variant = *parse_variant(m_variant->currentData().toString().toStdString());
  o.model.extent = *parse_extent(m_extent->currentText().toStdString());
  if (is_bottleneck_backbone(o.model.backbone)) o.stride_on = parse_stride_on(m_strideOn->currentData().toString().toStdString());
  if (m_classes->value() > 0) o.classes = m_classes->value();
  o.input_size = m_inputSize->value();
  o.class_names_file = m_classNames->text().trimmed().toStdString();
  return o;
}

QString ImportDialog::output() const { return m_out->text().trimmed(); }

QString ImportDialog::problem() const {
  const QString from = m_from->text().trimmed();
  if (from.isEmpty()) return tr("Choose the weights file.");
  if (!QFileInfo(from).isFile()) return tr("%1: no such file").arg(from);
  if (output().isEmpty()) return tr("Choose where to save the checkpoint.");
  if (QFileInfo::exists(output())) return tr("%1 exists; choose another name (it is never overwritten).").arg(output());
  return {};
}

void ImportDialog::accept() {
  const QString p = problem();
  m_problem->setText(p);
  if (p.isEmpty()) QDialog::accept();
}

}  // namespace gex::ui
