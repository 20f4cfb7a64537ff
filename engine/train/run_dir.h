// A run directory (DESIGN §3): run.json (config, engine version, device, status), metrics.csv
// (append-only), checkpoints/last|best.safetensors and analyses/. The GUI and `gex train` share it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/data_identity.h"
#include "train/train_config.h"

namespace gex {

struct MetricsRow {
  int64_t step = 0;
  double epoch = 0;
  std::string split;  // train | val
  double loss = 0, top1_error = 0, top5_error = 0, lr = 0, images_per_second = 0, wall_seconds = 0;
};

// Where a run stands, as run.json's `status` says it.
enum class RunStatus { kCreated, kRunning, kFinished, kStopped, kFailed };
std::string to_string(RunStatus status);
std::optional<RunStatus> parse_run_status(const std::string& text);

inline constexpr const char* kMetricsHeader =
    "step,epoch,split,loss,top1_error,top5_error,lr,images_per_second,wall_seconds";

// Whether `dir` holds files of its own but no run (anything besides a lock file): a folder of the
// user's, such as `--out .` or `--out ~` by mistake, into which a run's files are never scattered.
bool is_foreign_folder(const std::string& dir);

class RunDirectory {
 public:
  // A new run; UsageError when DIR already holds one (resume it instead).
  static RunDirectory create(const std::string& dir, const TrainConfig& config, const std::string& device);
  // An existing run; InputError naming run.json when it is missing or unreadable.
  static RunDirectory open(const std::string& dir);
  // The run that run.json's `text` describes (InputError naming `source` when it does not).
  static RunDirectory parse(const std::string& dir, const std::string& text, const std::string& source);

  const std::string& path() const { return m_dir; }
  const TrainConfig& config() const { return m_config; }
  RunStatus status() const { return m_status; }
  const std::string& message() const { return m_message; }
  const std::string& device() const { return m_device; }
  std::string last_checkpoint() const;
  static std::string last_checkpoint_of(const std::string& dir);
  std::string best_checkpoint() const;
  std::string metrics_path() const;

  // The status with a message, written atomically into run.json.
  void set_status(RunStatus status, const std::string& message = "");
  void set_config(const TrainConfig& config, const std::string& device);
  // The data files that could not be read and were left out (run.json's skipped_files: their
  // count, and the first 20 by name). A resumed run keeps the larger count.
  void set_skipped_files(const std::vector<std::string>& files);
  int64_t skipped_files() const { return m_skipped; }
  // The processes the run trains on (run.json's world_size, backend, hosts; one by default).
  void set_world(int size, const std::string& backend, const std::vector<std::string>& hosts);
  int world_size() const { return m_world_size; }
  const std::vector<std::string>& hosts() const { return m_hosts; }
  // The data it trains on, as last loaded (run.json's data_files; none in runs made before it).
  void set_data_identity(const DataIdentity& identity);
  const std::optional<DataIdentity>& data_identity() const { return m_data; }

  void append_metrics(const std::vector<MetricsRow>& rows);
  // Drops the rows after `step`, so a resumed run's curves never zig-zag.
  void truncate_metrics_after(int64_t step);

 private:
  void write_run_json();
  std::string m_dir;
  TrainConfig m_config;
  std::string m_device, m_message, m_created;
  RunStatus m_status = RunStatus::kCreated;
  int64_t m_skipped = 0;
  int m_world_size = 1;
  std::string m_backend;
  std::vector<std::string> m_hosts;
  std::vector<std::string> m_skipped_examples;
  std::optional<DataIdentity> m_data;
};

std::string format_metrics_row(const MetricsRow& row);
// Rows of a metrics.csv file; InputError naming the file and line on a malformed row.
std::vector<MetricsRow> read_metrics(const std::string& path);
std::vector<MetricsRow> parse_metrics(const std::string& text, const std::string& source);

// What a run came to, from its metrics.csv: the last and the lowest validation top-1 error (1 when
// it has no evaluation) and its training speed (the median of its train rows' images/s, so that
// one slow interval does not count).
struct RunResult {
  double final_top1_error = 1, best_top1_error = 1, images_per_second = 0;
};
RunResult run_result(const std::vector<MetricsRow>& rows);

}  // namespace gex
