#include "train_process.h"

#include <QCoreApplication>
#include <QDir>
#include <QJsonDocument>
#include <QJsonObject>

#include <csignal>
#include <cstring>

#include "errors.h"
#include "models/model_spec.h"

namespace gex::ui {

namespace {

QString text(const std::string& s) { return QString::fromStdString(s); }
QString number(double v) { return QString::number(v, 'g', 17); }  // round-trips a double

// A gex ended by a signal: which, and for SIGKILL its usual sender, the kernel out of memory.
QString killed_message(int signal) {
  const QString name = QString::fromLocal8Bit(::strsignal(signal));
  if (signal == SIGKILL)
    return TrainProcess::tr("gex train was killed (signal %1, %2): by the system when memory ran out (a smaller "
                            "batch needs less), or by another program").arg(signal).arg(name);
  return TrainProcess::tr("gex train crashed (signal %1, %2)").arg(signal).arg(name);
}

TrainProgress to_progress(const QJsonObject& o) {
  TrainProgress p;
  p.step = int64_t(o.value(QStringLiteral("step")).toDouble());
  p.total_steps = int64_t(o.value(QStringLiteral("total_steps")).toDouble());
  p.epoch = o.value(QStringLiteral("epoch")).toDouble();
  p.loss = o.value(QStringLiteral("loss")).toDouble();
  p.top1_error = o.value(QStringLiteral("top1_error")).toDouble();
  p.lr = o.value(QStringLiteral("lr")).toDouble();
  p.images_per_second = o.value(QStringLiteral("images_per_second")).toDouble();
  p.eta_seconds = o.value(QStringLiteral("eta_seconds")).toDouble();
  return p;
}

EvalReport to_eval(const QJsonObject& o) {
  EvalReport r;
  r.step = int64_t(o.value(QStringLiteral("step")).toDouble());
  r.epoch = o.value(QStringLiteral("epoch")).toDouble();
  r.eval.loss = o.value(QStringLiteral("loss")).toDouble();
  r.eval.top1_error = o.value(QStringLiteral("top1_error")).toDouble();
  r.eval.top5_error = o.value(QStringLiteral("top5_error")).toDouble();
  r.is_best = o.value(QStringLiteral("is_best")).toBool();
  return r;
}

}  // namespace

QStringList train_arguments(const TrainConfig& c, const QString& runDir, int processes) {
  const ModelSpec& m = c.model;
  QStringList milestones;
  for (double f : c.milestones) milestones << number(f);
  QStringList a = {QStringLiteral("train"),
                   QStringLiteral("--model"), text(m.backbone),
                   QStringLiteral("--attention"), text(to_string(m.attention)),
                   QStringLiteral("--variant"), text(to_string(m.variant)),
                   QStringLiteral("--extent"), text(extent_to_string(m.extent)),
                   QStringLiteral("--pool"), text(to_string(m.pool)),
                   QStringLiteral("--stride-on"), text(to_string(m.stride_on)),
                   QStringLiteral("--data"), text(c.data),
                   QStringLiteral("--batch"), QString::number(c.batch),
                   QStringLiteral("--lr"), number(c.lr),
                   QStringLiteral("--schedule"), text(c.schedule),
                   QStringLiteral("--milestones"), milestones.join(QLatin1Char(',')),
                   QStringLiteral("--gamma"), number(c.gamma),
                   QStringLiteral("--warmup"), QString::number(c.warmup_steps),
                   QStringLiteral("--momentum"), number(c.momentum),
                   QStringLiteral("--weight-decay"), number(c.weight_decay),
                   QStringLiteral("--seed"), QString::number(c.seed),
                   QStringLiteral("--device"), text(c.device),
                   QStringLiteral("--augment"), text(c.augment),
                   QStringLiteral("--amp"), text(c.amp),
                   QStringLiteral("--log-every"), QString::number(c.log_every)};
  if (c.steps > 0) a << QStringLiteral("--steps") << QString::number(c.steps);
  else a << QStringLiteral("--epochs") << QString::number(c.epochs);
  if (c.nesterov) a << QStringLiteral("--nesterov");
  if (processes > 1) a << QStringLiteral("--nproc") << QString::number(processes);
  if (c.threads > 0) a << QStringLiteral("--threads") << QString::number(std::max(1, c.threads / std::max(1, processes)));
  if (c.sync_bn && processes > 1) a << QStringLiteral("--sync-bn");
  if (c.checkpoint_every > 0) a << QStringLiteral("--checkpoint-every") << QString::number(c.checkpoint_every);
  if (c.eval_every > 0) a << QStringLiteral("--eval-every") << QString::number(c.eval_every);
  if (c.eval_limit > 0) a << QStringLiteral("--eval-limit") << QString::number(c.eval_limit);
  if (!c.init_from.empty()) a << QStringLiteral("--init-from") << text(c.init_from);
  if (c.freeze_backbone) a << QStringLiteral("--freeze-backbone");
  if (!c.probes) a << QStringLiteral("--no-probes");
  a << QStringLiteral("--out") << runDir << QStringLiteral("--progress") << QStringLiteral("json");
  return a;
}

QStringList resume_arguments(const QString& runDir, int processes, const QString& movedData) {
  QStringList a = {QStringLiteral("train"), QStringLiteral("--resume"), runDir, QStringLiteral("--progress"),
                   QStringLiteral("json")};
  if (!movedData.isEmpty()) a << QStringLiteral("--data") << movedData;
  if (processes > 1) a << QStringLiteral("--nproc") << QString::number(processes);
  return a;
}

QStringList study_arguments(const TrainConfig& config, const QStringList& variants, int seeds, const QString& dir,
                            int processes) {
  const QStringList train = train_arguments(config, dir, processes);
  QStringList a = {QStringLiteral("study"), QStringLiteral("--variants"), variants.join(QLatin1Char(',')),
                   QStringLiteral("--seeds"), QString::number(seeds)};
  // The run's settings but those the study sets per run (attention, variant, seed).
  for (int i = 1; i < train.size(); ++i) {
    const QString& flag = train[i];
    if (flag == QLatin1String("--attention") || flag == QLatin1String("--variant") || flag == QLatin1String("--seed")) {
      ++i;
      continue;
    }
    a << flag;
  }
  return a;
}

QString gex_program() { return QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("gex")); }

TrainProcess::TrainProcess(QObject* parent) : QObject(parent) {
  m_process.setProgram(gex_program());
  m_process.setProcessChannelMode(QProcess::SeparateChannels);
  m_process.setStandardOutputFile(QProcess::nullDevice());
  connect(&m_process, &QProcess::readyReadStandardError, this, &TrainProcess::readLines);
  connect(&m_process, &QProcess::finished, this, &TrainProcess::onFinished);
  connect(&m_process, &QProcess::errorOccurred, this, &TrainProcess::onError);
}

TrainProcess::~TrainProcess() {
  if (m_process.state() == QProcess::NotRunning) return;
  m_process.blockSignals(true);  // nobody is left to tell
  stop();
  if (!m_process.waitForFinished(60000)) m_process.kill();
}

void TrainProcess::start(const QStringList& arguments) {
  if (isRunning()) return;
  m_pending.clear();
  m_lastError.clear();
  m_errorSaid = false;
  m_paused = m_stopping = false;
  m_process.setArguments(arguments);
  m_process.start();
}

void TrainProcess::setPaused(bool paused) {
  const qint64 pid = m_process.processId();
  if (pid <= 0 || paused == m_paused) return;
  // The `--nproc` launcher stops its workers, then itself, on SIGTSTP (as on Ctrl-Z) and continues
  // them on SIGCONT; one process is stopped outright (SIGTSTP does not stop a process whose group
  // has no parent in its session, as when the application was started from a desktop menu).
  const bool launcher = m_process.arguments().contains(QStringLiteral("--nproc"));
  ::kill(pid_t(pid), paused ? (launcher ? SIGTSTP : SIGSTOP) : SIGCONT);
  m_paused = paused;
}

void TrainProcess::stop() {
  if (m_process.state() == QProcess::NotRunning) return;
  m_stopping = true;
  setPaused(false);         // a stopped process cannot save its checkpoint
  m_process.terminate();    // SIGTERM: gex saves `last` between two batches and exits 130
}

void TrainProcess::readLines() {
  m_pending += m_process.readAllStandardError();
  for (qsizetype end; (end = m_pending.indexOf('\n')) >= 0;) {
    const QByteArray line = m_pending.left(end).trimmed();
    m_pending.remove(0, end + 1);
    if (!line.isEmpty()) handleLine(line);
  }
}

void TrainProcess::handleLine(const QByteArray& line) {
  const QJsonObject o = line.startsWith('{') ? QJsonDocument::fromJson(line).object() : QJsonObject();
  if (o.contains(QStringLiteral("progress"))) Q_EMIT progress(to_progress(o.value(QStringLiteral("progress")).toObject()));
  else if (o.contains(QStringLiteral("eval"))) Q_EMIT evaluated(to_eval(o.value(QStringLiteral("eval")).toObject()));
  else if (o.contains(QStringLiteral("message"))) Q_EMIT message(o.value(QStringLiteral("message")).toString());
  else if (o.contains(QStringLiteral("run"))) Q_EMIT runStarted(o.value(QStringLiteral("run")).toString());
  else {
    // Human text: gex's error line ("gex train: error: FILE: what") or something it printed. The
    // first error line stands: the `--nproc` launcher adds the other ranks' after it ("ranks 1, 2:
    // the same").
    QString human = QString::fromUtf8(line);
    bool error_line = false;
    for (const QString& prefix : {QStringLiteral("gex train: error: "), QStringLiteral("gex train: failed: "),
                                  QStringLiteral("gex study: error: "), QStringLiteral("gex study: failed: ")})
      if (human.startsWith(prefix)) {
        human = human.mid(prefix.size());
        error_line = true;
      }
    if (!m_errorSaid) m_lastError = human;
    m_errorSaid = m_errorSaid || error_line;
  }
}

void TrainProcess::onFinished(int exitCode, QProcess::ExitStatus status) {
  readLines();
  if (!m_pending.trimmed().isEmpty()) handleLine(m_pending.trimmed());
  m_pending.clear();
  m_paused = false;
  if (status == QProcess::NormalExit && exitCode == kExitOk) {
    Q_EMIT finished(JobOutcome::kDone, {});
  } else if (status == QProcess::NormalExit && exitCode == kExitInterrupted) {
    Q_EMIT finished(JobOutcome::kCancelled, {});
  } else if (status == QProcess::CrashExit && m_stopping) {
    Q_EMIT finished(JobOutcome::kCancelled, {});
  } else if (status == QProcess::CrashExit) {
    Q_EMIT finished(JobOutcome::kFailed, killed_message(exitCode));  // Qt gives the signal as the exit code
  } else {
    Q_EMIT finished(JobOutcome::kFailed,
                    !m_lastError.isEmpty() ? m_lastError : tr("gex train exited with status %1").arg(exitCode));
  }
}

void TrainProcess::onError(QProcess::ProcessError error) {
  if (error != QProcess::FailedToStart) return;  // the others end in finished()
  Q_EMIT finished(JobOutcome::kFailed, tr("cannot start %1: %2").arg(QDir::toNativeSeparators(gex_program()),
                                                                       m_process.errorString()));
}

}  // namespace gex::ui
