#include "analysis/extent_sweep.h"

#include <cstdio>
#include <filesystem>

#include "errors.h"
#include "io/atomic_file.h"
#include "models/registry.h"
#include "train/run_dir.h"

namespace gex {

namespace fs = std::filesystem;

namespace {

void write_table(const std::string& path, const std::vector<SweepRow>& rows) {
  std::string text = "extent,params,macs,final_top1_error,best_top1_error,run\n";
  char line[512];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%s,%lld,%lld,%.6g,%.6g,%s\n", r.extent.c_str(), static_cast<long long>(r.params),
                  static_cast<long long>(r.macs), r.final_top1_error, r.best_top1_error, r.run.c_str());
    text += line;
  }
  write_file_atomically(path, {text});
}

// The settings that make two runs the same experiment: all but their length and where they ran.
std::string experiment(TrainConfig c) {
  c.steps = c.epochs = 0;
  c.threads = 0;
  c.device = "auto";
  return c.to_json();
}

// True when `dir` holds this plan's run with a checkpoint to resume. A run of another experiment
// is the user's: refused, never replaced. One that never reached a checkpoint has nothing to
// resume: moved aside, so a fresh run can take its place.
bool resumable(const std::string& dir, const TrainConfig& plan, const TrainCallbacks& callbacks) {
  if (!fs::exists(fs::path(dir) / "run.json")) {
    if (fs::exists(dir) && !fs::is_empty(dir))
      throw UsageError(dir + " exists and is not a run of this sweep; move it away or choose another --out");
    return false;
  }
  const auto run = RunDirectory::open(dir);
  if (experiment(run.config()) != experiment(plan))
    throw UsageError(dir + " holds a run of another configuration (" + run.config().model.describe() +
                     "); move it away or choose another --out");
  if (fs::exists(run.last_checkpoint())) return true;
  std::string aside = dir + ".incomplete";
  for (int i = 2; fs::exists(aside); ++i) aside = dir + ".incomplete-" + std::to_string(i);
  fs::rename(dir, aside);
  if (callbacks.on_message) callbacks.on_message(dir + " never reached a checkpoint; moved it to " + aside);
  return false;
}

}  // namespace

std::vector<SweepRow> extent_sweep(const std::string& out_dir, const TrainConfig& config, const std::vector<int>& extents,
                                   bool with_baseline, const TrainCallbacks& callbacks, WorkControl& control,
                                   const Dataset* data) {
  if (config.model.attention != AttentionKind::kGE) throw UsageError("an extent sweep needs --attention ge");
  make_directories(out_dir);
  std::vector<std::pair<std::string, ModelSpec>> plan;
  if (with_baseline) {
    ModelSpec base = config.model;
    base.attention = AttentionKind::kNone;
    plan.emplace_back("1", base);
  }
  for (int e : extents) {
    ModelSpec spec = config.model;
    spec.extent = e;
    plan.emplace_back(extent_to_string(e), spec);
  }
  std::vector<SweepRow> rows;
  for (const auto& [label, spec] : plan) {
    if (control.cancelled()) break;
    SweepRow row;
    row.extent = label;
    row.run = (fs::path(out_dir) / (label == "1" ? "baseline" : "e" + label)).string();
    auto net = build_network(spec);
    const auto c = measure_complexity(*net);
    row.params = c.params;
    row.macs = c.macs;
    TrainConfig run_config = config;
    run_config.model = spec;
    TrainSummary summary;
    if (resumable(row.run, run_config, callbacks)) {
      ResumeOptions length;
      if (config.steps > 0) length.steps = config.steps;
      else length.epochs = config.epochs;
      summary = resume(row.run, length, callbacks, control);
    } else {
      summary = train(row.run, run_config, callbacks, control, data);
    }
    row.finished = !summary.cancelled;
    if (summary.final) row.final_top1_error = summary.final->eval.top1_error;
    if (summary.best) row.best_top1_error = summary.best->eval.top1_error;
    rows.push_back(row);
    write_table((fs::path(out_dir) / "sweep.csv").string(), rows);
  }
  return rows;
}

}  // namespace gex
