#include "train/run_dir.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "analysis/statistics.h"
#include "errors.h"
#include "io/atomic_file.h"

namespace gex {

namespace fs = std::filesystem;

namespace {
std::string now_iso() {
  const auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return text;
}
}  // namespace

std::string to_string(RunStatus status) {
  switch (status) {
    case RunStatus::kCreated: return "created";
    case RunStatus::kRunning: return "running";
    case RunStatus::kFinished: return "finished";
    case RunStatus::kStopped: return "stopped";
    case RunStatus::kFailed: return "failed";
  }
  return "created";
}

std::optional<RunStatus> parse_run_status(const std::string& text) {
  for (auto s : {RunStatus::kCreated, RunStatus::kRunning, RunStatus::kFinished, RunStatus::kStopped, RunStatus::kFailed})
    if (to_string(s) == text) return s;
  return std::nullopt;
}

bool is_foreign_folder(const std::string& dir) {
  std::error_code error;
  if (!fs::is_directory(dir, error) || fs::exists(fs::path(dir) / "run.json")) return false;
  for (const auto& entry : fs::directory_iterator(dir, error))
    if (entry.path().filename() != ".lock") return true;
  return false;
}

RunDirectory RunDirectory::create(const std::string& dir, const TrainConfig& config, const std::string& device) {
  if (fs::exists(fs::path(dir) / "run.json"))
    throw UsageError(dir + " already holds a run; resume it with --resume " + dir + " or choose another --out");
  make_directories((fs::path(dir) / "checkpoints").string());
  make_directories((fs::path(dir) / "analyses").string());
  RunDirectory run;
  run.m_dir = dir;
  run.m_config = config;
  run.m_device = device;
  run.m_created = now_iso();
  run.write_run_json();
  write_file_atomically(run.metrics_path(), {std::string(kMetricsHeader) + "\n"});
  return run;
}

namespace {

// Why `given`, given for a run, is none: the usual slips (the run's run.json, one of its checkpoints,
// its checkpoints folder) name the run to give instead.
[[noreturn]] void refuse_as_run(const fs::path& given) {
  std::error_code ec;
  const fs::path dir = given.has_filename() ? given : given.parent_path();  // (RUN/checkpoints/ too)
  const auto parent_of = [&](const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::current_path(ec); };
  const fs::path parent = parent_of(dir), above = parent_of(parent);
  const auto is_run = [&](const fs::path& p) { return fs::is_regular_file(p / "run.json", ec); };
  if (fs::is_regular_file(dir, ec)) {
    if (dir.filename() == "run.json" && is_run(parent))
      throw InputError(given.string(), "is a run's run.json, not its folder: give the run, " + parent.string());
    if (parent.filename() == "checkpoints" && is_run(above))
      throw InputError(given.string(), "is a checkpoint of the run " + above.string() + ": give the run's folder");
    throw InputError(given.string(), "is a file, not a run directory");
  }
  if (!fs::is_directory(dir, ec)) throw InputError(given.string(), "no such run directory");
  if (dir.filename() == "checkpoints" && is_run(parent))
    throw InputError(given.string(), "is the checkpoints folder of the run " + parent.string() + ": give the run's folder");
  throw InputError(given.string(), "not a run directory (no run.json)");
}

}  // namespace

RunDirectory RunDirectory::open(const std::string& dir) {
  const auto json_path = (fs::path(dir) / "run.json").string();
  std::error_code ec;
  if (!fs::is_directory(dir, ec) || !fs::exists(json_path, ec)) refuse_as_run(dir);
  return parse(dir, read_file(json_path), json_path);
}

RunDirectory RunDirectory::parse(const std::string& dir, const std::string& text, const std::string& json_path) {
  RunDirectory run;
  run.m_dir = dir;
  try {
    const auto j = nlohmann::json::parse(text);
    run.m_config = TrainConfig::from_json(j.at("config").dump(), json_path);
    run.m_device = j.value("device", "cpu");
    const std::string status = j.value("status", "stopped");
    const auto parsed = parse_run_status(status);
    if (!parsed) throw InputError(json_path, "unknown status '" + status + "' (created, running, finished, stopped or failed)");
    run.m_status = *parsed;
    run.m_message = j.value("message", "");
    run.m_created = j.value("created", "");
    run.m_skipped = j.value("skipped_files", int64_t{0});
    run.m_skipped_examples = j.value("skipped_examples", std::vector<std::string>{});
    run.m_world_size = std::max(1, j.value("world_size", 1));
    run.m_backend = j.value("backend", "");
    run.m_hosts = j.value("hosts", std::vector<std::string>{});
    if (j.contains("data_files")) run.m_data = parse_identity_json(j.at("data_files").dump());
  } catch (const nlohmann::json::exception& e) {
    throw InputError(json_path, std::string("not a valid run.json: ") + e.what());
  }
  return run;
}

std::string RunDirectory::last_checkpoint() const { return last_checkpoint_of(m_dir); }
std::string RunDirectory::last_checkpoint_of(const std::string& dir) {
  return (fs::path(dir) / "checkpoints" / "last.safetensors").string();
}
std::string RunDirectory::best_checkpoint() const { return (fs::path(m_dir) / "checkpoints" / "best.safetensors").string(); }
std::string RunDirectory::metrics_path() const { return (fs::path(m_dir) / "metrics.csv").string(); }

void RunDirectory::set_status(RunStatus status, const std::string& message) {
  m_status = status;
  m_message = message;
  write_run_json();
}

void RunDirectory::set_config(const TrainConfig& config, const std::string& device) {
  m_config = config;
  m_device = device;
  write_run_json();
}

void RunDirectory::set_skipped_files(const std::vector<std::string>& files) {
  if (int64_t(files.size()) <= m_skipped) return;
  m_skipped = static_cast<int64_t>(files.size());
  m_skipped_examples.assign(files.begin(), files.begin() + std::min<size_t>(20, files.size()));
  write_run_json();
}

void RunDirectory::set_world(int size, const std::string& backend, const std::vector<std::string>& hosts) {
  m_world_size = size;
  m_backend = backend;
  m_hosts = hosts;
  write_run_json();
}

void RunDirectory::set_data_identity(const DataIdentity& identity) {
  m_data = identity;
  write_run_json();
}

void RunDirectory::write_run_json() {
  nlohmann::ordered_json j;
  j["format"] = "gex-run/1";
  j["engine_version"] = GEX_VERSION;
  j["config"] = nlohmann::ordered_json::parse(m_config.to_json());
  j["device"] = m_device;
  j["status"] = to_string(m_status);
  if (!m_message.empty()) j["message"] = m_message;
  if (m_skipped > 0) {
    j["skipped_files"] = m_skipped;
    j["skipped_examples"] = m_skipped_examples;
  }
  j["world_size"] = m_world_size;
  if (!m_backend.empty()) j["backend"] = m_backend;
  if (!m_hosts.empty()) j["hosts"] = m_hosts;
  if (m_data) j["data_files"] = nlohmann::ordered_json::parse(identity_json(*m_data));
  j["created"] = m_created;
  j["updated"] = now_iso();
  write_file_atomically((fs::path(m_dir) / "run.json").string(), {j.dump(2) + "\n"});
}

std::string format_metrics_row(const MetricsRow& r) {
  char line[512];
  std::snprintf(line, sizeof line, "%lld,%.6f,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f", static_cast<long long>(r.step),
                r.epoch, r.split.c_str(), r.loss, r.top1_error, r.top5_error, r.lr, r.images_per_second,
                r.wall_seconds);
  return line;
}

void RunDirectory::append_metrics(const std::vector<MetricsRow>& rows) {
  if (rows.empty()) return;
  std::ofstream out(metrics_path(), std::ios::app);
  if (!out) throw InputError(metrics_path(), "cannot append");
  for (const auto& r : rows) out << format_metrics_row(r) << '\n';
  out.flush();
  if (!out) throw InputError(metrics_path(), "cannot append (disk full?)");
}

void RunDirectory::truncate_metrics_after(int64_t step) {
  std::string kept = std::string(kMetricsHeader) + "\n";
  for (const auto& r : read_metrics(metrics_path()))
    if (r.step <= step) kept += format_metrics_row(r) + "\n";
  write_file_atomically(metrics_path(), {kept});
}

std::vector<MetricsRow> read_metrics(const std::string& path) { return parse_metrics(read_file(path), path); }

std::vector<MetricsRow> parse_metrics(const std::string& text, const std::string& path) {
  std::istringstream in(text);
  std::vector<MetricsRow> rows;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line.rfind("step,", 0) == 0) continue;
    MetricsRow r;
    char split[16] = {0};
    long long step = 0;
    const int n = std::sscanf(line.c_str(), "%lld,%lf,%15[^,],%lf,%lf,%lf,%lf,%lf,%lf", &step, &r.epoch, split,
                              &r.loss, &r.top1_error, &r.top5_error, &r.lr, &r.images_per_second, &r.wall_seconds);
    if (n != 9) {
      // A line cut short by a crash while appending is the last one; anything else is corrupt.
      if (in.peek() == EOF) break;
      throw InputError(path, "line " + std::to_string(number) + " is not a metrics row: '" + line + "'");
    }
    r.step = step;
    r.split = split;
    rows.push_back(r);
  }
  return rows;
}

RunResult run_result(const std::vector<MetricsRow>& rows) {
  RunResult r;
  std::vector<double> speeds;
  for (const auto& row : rows) {
    if (row.split == "val") {
      r.final_top1_error = row.top1_error;
      r.best_top1_error = std::min(r.best_top1_error, row.top1_error);
    } else if (row.images_per_second > 0) {
      speeds.push_back(row.images_per_second);
    }
  }
  r.images_per_second = quantile(speeds, 0.5);
  return r;
}

}  // namespace gex
