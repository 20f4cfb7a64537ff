// What every `gex` command shares: the --json/--threads flags, model flags, and how results and
// errors reach the user (one JSON object on stdout with --json; human text on stderr).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

#include "data/dataset.h"
#include "models/model_spec.h"
#include "train/checkpoint.h"
#include "train/trainer.h"

namespace gex::cli {

struct CommonFlags {
  bool json = false;
  int threads = 0;  // 0: one per core
};

void add_common_flags(CLI::App* command, CommonFlags& flags);

// The process's command line (main keeps it: `gex train --nproc` starts copies of it).
void remember_command_line(int argc, char** argv);
int command_line_count();
char** command_line_values();
// Sets Torch's intra-op threads (its default here is 1).
void apply_threads(const CommonFlags& flags);

struct ModelFlags {
  std::string model = "resnet20";
  std::string attention = "none";
  std::string variant = "theta-minus";
  std::string extent = "global";
  std::string pool = "avg";
  std::string stride_on = "1x1";
  std::optional<int> classes, in_channels, input_size;
};

void add_model_flags(CLI::App* command, ModelFlags& flags);
// UsageError on a value that cannot work. ImageNet backbones default to 1000 classes, 3×224×224,
// CIFAR ones to 10 classes, 3×32×32.
ModelSpec to_spec(const ModelFlags& flags);
// The classes, channels and input size the flags ask for (the rest comes from a data set).
InputRequest input_request(const ModelFlags& flags);

struct DataFlags {
  std::string data = "fashion-mnist";
  int64_t cache_mb = 512;
  int loader_threads = 0;
};
void add_data_flags(CLI::App* command, DataFlags& flags);

// For an option of an unsigned type (a seed): CLI11 reads "-1" there as 2^64 − 1; refused instead
// (said as "--seed takes a whole number, 0 or more, not '-1'").
CLI::Validator not_negative();

// The parser's message for a usage error, with a value that is not of its option's kind said in
// words ("--steps takes a whole number, not '1e9'") where CLI11 says "Could not convert: --steps =
// 1e9" or "--limit: Value abc not in range 0 to 1099511627776". `command`: the command parsed, if any.
std::string usage_message(const CLI::App* command, const CLI::ParseError& error);

// With --json: `result` as one JSON line on stdout and `human` on stderr; otherwise `human` on
// stdout.
void emit(const CommonFlags& flags, const nlohmann::json& result, const std::string& human);

// Where a command will write, checked before any work is done (DESIGN §7: nothing of the user's is
// overwritten). A file: a new name in an existing directory; a directory: new, or empty. UsageError
// (exit 2) for an empty name or something already there, InputError (exit 3) for a file's missing
// directory or a directory's name taken by a file. `what` is what is never overwritten there.
enum class Output { File, Directory };
void check_new_output(const std::string& flag, const std::string& path, Output kind,
                      const std::string& what = "a result");
// A checkpoint --out: check_new_output for a checkpoint.
void refuse_existing_checkpoint(const std::string& out);

// "12.3 M", "3.86 G": for people; JSON keeps the exact integers.
std::string si(double value, int precision = 2);
// A fraction as a percentage for people: 0.0674 → "6.74".
std::string percent(double fraction);
// A checkpoint's JSON metadata entry (trainer, metrics); null when it is empty or not JSON (written
// by another program): what reads it takes what is there.
nlohmann::json metadata_json(const std::string& text);
// "42s", "3m07s", "2h05m".
std::string duration(double seconds);
// The progress of a long pass on stderr ("gex selectivity: 12000 of 60000 images (20 %), about 1m12s
// left"): one updating line on a terminal, a line every 10 s otherwise.
std::function<void(int64_t done, int64_t total)> pass_progress(const std::string& command, const std::string& unit);

// The flags of a training run (gex train, gex sweep).
struct RunFlags {
  TrainConfig config;
  std::optional<int64_t> epochs, steps;
};
void add_run_flags(CLI::App* command, RunFlags& flags);
// --probe-every, --probe-images, --probe-limit, --probe-prune, --no-probes, --keep-checkpoints.
void add_probe_flags(CLI::App* command, TrainConfig& config);
// With --init-from: the model flags not given on the command line (backbone, stride, input size;
// without --attention its attention modules, with the checkpoint's kind their variant, extent and
// pool) become the checkpoint's.
void adopt_init_model(CLI::App* command, ModelFlags& model, const RunFlags& run);
// Loads the data set and completes run.config (fit_to_data: model flags not given come from the
// data); the threads are the --threads given, or one per core.
Dataset load_for_run(const ModelFlags& model, const DataFlags& data, RunFlags& run, const CommonFlags& common,
                     const std::function<void(const std::string&)>& warn);

// What every command that runs a checkpoint over a data set takes: --checkpoint, --data, --split,
// --limit, --batch, --device.
struct CheckpointRunFlags {
  std::string checkpoint, split = "test", device = "auto";
  int64_t limit = 0, batch = 256;
};
void add_checkpoint_run_flags(CLI::App* command, DataFlags& data, CheckpointRunFlags& flags);

// The data set an analysis of a checkpoint runs on, at the checkpoint's input size; a folder
// without val/ held out as the checkpoint's run held it out (its seed), its classes labelled by the
// checkpoint's names; the split the command does not measure is not decoded. UsageError when its
// channels or classes differ from the model's, or, in a data-parallel `group`, when a rank's files
// differ from rank 0's.
Dataset load_for_checkpoint(const DataFlags& data, const CheckpointInfo& info, const CheckpointRunFlags& run,
                            const std::string& command, ProcessGroup* group);

// SIGINT/SIGTERM/SIGHUP cancel `control` (nullptr restores the defaults; SIGHUP stays ignored
// under nohup); so does a training progress line that cannot be written because nobody reads it
// any more (EPIPE).
void install_signal_handlers(WorkControl* control);
// The same for as long as it lives (the work stops between batches; a second signal kills), and
// the defaults again after. Null leaves the defaults: a rank of a job stops with its launcher.
class CancelOnSignal {
 public:
  explicit CancelOnSignal(WorkControl* control) { install_signal_handlers(control); }
  ~CancelOnSignal() { install_signal_handlers(nullptr); }
  CancelOnSignal(const CancelOnSignal&) = delete;
  CancelOnSignal& operator=(const CancelOnSignal&) = delete;
};
// Interrupted (exit 130) when `control` was cancelled: the pass over the data is incomplete and
// nothing of it is written.
void stop_if_interrupted(const WorkControl& control);
// Progress lines on stderr: one updating line on a terminal, a line every 5 s otherwise.
TrainCallbacks console_callbacks(const std::string& command);
// `--progress json`: one JSON object per line on stderr for a program that follows training (the
// application): {"progress": …}, {"eval": …}, {"message": …}.
TrainCallbacks json_callbacks();

// A subcommand and what runs it once its flags are parsed; returns the exit status.
struct Command {
  CLI::App* app;
  std::function<int()> run;
};

Command add_info_command(CLI::App& gex);
Command add_init_command(CLI::App& gex);
Command add_import_command(CLI::App& gex);
Command add_forward_command(CLI::App& gex);
Command add_train_command(CLI::App& gex);
Command add_eval_command(CLI::App& gex);
Command add_gates_command(CLI::App& gex);
Command add_selectivity_command(CLI::App& gex);
Command add_prune_command(CLI::App& gex);
Command add_sweep_command(CLI::App& gex);
Command add_probe_command(CLI::App& gex);
Command add_study_command(CLI::App& gex);

}  // namespace gex::cli
