// gex sweep MODEL-FLAGS --data DATA --extents 2,4,8,global [train flags] --out DIR: the same GE
// network trained at each extent, and the baseline (e = 1); a table of accuracy against e.
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "analysis/extent_sweep.h"
#include "errors.h"
#include "gex/cli_support.h"

namespace gex::cli {

Command add_sweep_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    DataFlags data;
    RunFlags run;
    std::vector<std::string> extents = {"2", "4", "8", "global"};
    bool no_baseline = false;
    std::string out;
  };
  auto f = std::make_shared<Flags>();
  f->model.attention = "ge";
  auto* app = gex.add_subcommand("sweep", "Train one GE network at each extent ratio (and the baseline)");
  add_model_flags(app, f->model);
  add_data_flags(app, f->data);
  app->add_option("--extents", f->extents, "Extent ratios: 2,4,8,global")->delimiter(',')->capture_default_str();
  app->add_flag("--no-baseline", f->no_baseline, "Leave out the baseline (e = 1)");
  add_run_flags(app, f->run);
  app->add_option("--out", f->out, "Directory: one run per extent and sweep.csv (resumable)")->required();
  add_common_flags(app, f->common);
  return {app, [f, app]() {
            std::vector<int> extents;
            for (const auto& e : f->extents) {
              const auto parsed = parse_extent(e);
              if (!parsed) throw UsageError("--extents takes 2, 4, 8 and global, not '" + e + "'");
              extents.push_back(*parsed);
            }
            if (f->run.epochs && f->run.steps) throw UsageError("give --epochs or --steps, not both");
            WorkControl control;
            install_signal_handlers(&control);
            const auto callbacks = console_callbacks("gex sweep");
            adopt_init_model(app, f->model, f->run);
            const Dataset data = load_for_run(f->model, f->data, f->run, f->common, callbacks.on_message);
            const auto rows = extent_sweep(f->out, f->run.config, extents, !f->no_baseline, callbacks, control, &data);
            install_signal_handlers(nullptr);
            if (::isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
            nlohmann::json table = nlohmann::json::array();
            std::string human = "extent      params      GMACs  final top-1  best top-1\n";
            bool all_finished = rows.size() == extents.size() + (f->no_baseline ? 0 : 1);
            for (const auto& r : rows) {
              table.push_back({{"extent", r.extent}, {"params", r.params}, {"macs", r.macs},
                               {"final_top1_error", r.final_top1_error}, {"best_top1_error", r.best_top1_error},
                               {"run", r.run}, {"finished", r.finished}});
              all_finished = all_finished && r.finished;
              char line[160];
              std::snprintf(line, sizeof line, "%-8s %9.3fM %10.4f %11.2f%% %10.2f%%\n", r.extent.c_str(), r.params / 1e6,
                            r.macs / 1e9, 100 * r.final_top1_error, 100 * r.best_top1_error);
              human += line;
            }
            emit(f->common, {{"table", table}, {"csv", f->out + "/sweep.csv"}}, human);
            return all_finished ? kExitOk : kExitInterrupted;
          }};
}

}  // namespace gex::cli
