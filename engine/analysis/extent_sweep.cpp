#include "analysis/extent_sweep.h"

#include <cstdio>
#include <filesystem>

#include "errors.h"
#include "io/atomic_file.h"
#include "models/registry.h"
#include "train/planned_run.h"
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
    const auto summary = run_planned(row.run, run_config, callbacks, control, data);
    row.finished = !summary.cancelled;
    const auto result = run_result(read_metrics(RunDirectory::open(row.run).metrics_path()));
    row.final_top1_error = result.final_top1_error;
    row.best_top1_error = result.best_top1_error;
    rows.push_back(row);
    write_table((fs::path(out_dir) / "sweep.csv").string(), rows);
  }
  return rows;
}

}  // namespace gex
