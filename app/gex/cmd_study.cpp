// gex study --variants baseline,theta-minus,theta:4,theta-plus --seeds K [train flags] --out DIR:
// each variant trained with seeds 1 … K (DESIGN §6); gex study --summary DIR: how sure the
// comparison with the baseline is.
#include <torch/torch.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "analysis/statistics.h"
#include "analysis/study.h"
#include "analysis/study_analyses.h"
#include "dist/data_parallel.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/job.h"
#include "train/device.h"

namespace gex::cli {

namespace {

nlohmann::json interval_json(const std::optional<Interval>& i) {
  if (!i) return nullptr;
  return nlohmann::json::array({i->low, i->high});
}

nlohmann::json spread_json(const Spread& s) {
  return {
      {"n", s.n}, {"mean", s.mean}, {"sd", s.n > 1 ? nlohmann::json(s.sd) : nlohmann::json(nullptr)},
      {"ci95", interval_json(s.ci95)}, {"iqm", s.iqm}};
}

// The summary of the finished runs in `rows`, as JSON and as text for people.
std::pair<nlohmann::json, std::string> summary_report(const std::string& dir,
                                                      const std::vector<StudyRow>& rows) {
  const auto summaries = summarize_study(rows);
  nlohmann::json variants = nlohmann::json::array();
  std::string human = "study " + dir + ": final top-1 error over seeds\n";
  human += "variant          runs     mean       sd   95% interval          IQM\n";
  std::string against;
  for (const auto& s : summaries) {
    nlohmann::json v = {{"variant", s.variant},
                        {"seeds", s.seeds},
                        {"final_top1_error", spread_json(s.final_error)},
                        {"iqm_ci95", interval_json(s.iqm_ci95)}};
    char line[256];
    const std::string ci = s.final_error.ci95 ? percent(s.final_error.ci95->low) + " to " +
                                                    percent(s.final_error.ci95->high) + "%"
                                              : "(one run)";
    char sd[32] = "       —";  // undefined for one run (padded by hand: "—" is 3 bytes, one column)
    if (s.final_error.n > 1) std::snprintf(sd, sizeof sd, "%7s%%", percent(s.final_error.sd).c_str());
    std::snprintf(line, sizeof line, "%-15s %5d %7s%% %s   %-18s %7s%%\n", s.variant.c_str(),
                  s.final_error.n, percent(s.final_error.mean).c_str(), sd, ci.c_str(),
                  percent(s.final_error.iqm).c_str());
    human += line;
    if (s.improvement) {
      const std::string words = describe_difference(s, s.variant);
      v["vs_baseline"] = {
          {"paired_seeds", s.paired_seeds},
          {"difference", s.difference ? spread_json(*s.difference) : nlohmann::json(nullptr)},
          {"difference_excludes_zero",
           s.difference && s.difference->ci95 && s.difference->ci95->excludes_zero()},
          {"probability_of_improvement", s.improvement->probability},
          {"probability_of_improvement_ci95", interval_json(s.improvement->ci95)},
          {"words", words}};
      if (const auto& ci = s.improvement->ci95)
        std::snprintf(line, sizeof line, "  P(%s beats baseline on a run) = %.2f (95%% bootstrap %.2f to %.2f)\n",
                      s.variant.c_str(), s.improvement->probability, ci->low, ci->high);
      else
        std::snprintf(line, sizeof line, "  P(%s beats baseline on a run) = %.2f (one run on a side: no interval)\n",
                      s.variant.c_str(), s.improvement->probability);
      against += words + "\n" + line;
    }
    variants.push_back(v);
  }
  if (!against.empty())
    human += "\nagainst the baseline (paired by seed; errors in points of %):\n" + against;
  return {{{"study", dir}, {"variants", variants}}, human};
}

// A cell of a table: left-aligned in `width` columns.
std::string cell(const std::string& text, size_t width) {
  return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

// Ends a table's row (its last cell unpadded).
void end_row(std::string& text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  text += "\n";
}

std::string number(const char* format, double a, double b = 0, double c = 0) {
  char text[96];
  std::snprintf(text, sizeof text, format, a, b, c);
  return text;
}

constexpr size_t kFirstColumn = 12, kColumn = 24;

// "theta-minus (3)": a variant and its number of runs, a column's head.
std::string column_head(const std::string& variant, int runs) {
  return cell(variant + " (" + std::to_string(runs) + ")", kColumn);
}

struct Band {
  double mean = 0, low = 0, high = 0;
};

Band band_of(const std::vector<double>& values) {
  if (values.empty()) return {};
  double sum = 0;
  for (double v : values) sum += v;
  const auto [low, high] = std::minmax_element(values.begin(), values.end());
  return {sum / double(values.size()), *low, *high};
}

// "the first 1000 test images", or all of them (a probe's limit 0).
std::string images_measured(const StudyAnalyses& a) {
  return a.limit > 0 ? "the first " + std::to_string(a.limit) + " test images" : "all test images";
}

// "best checkpoints", or "probes at step 938".
std::string measured_at(const StudyAnalysesOptions& o) {
  return o.step >= 0 ? "probes at step " + std::to_string(o.step) : "best checkpoints";
}

// Selectivity: blocks × variants, median [quartiles].
std::pair<nlohmann::json, std::string> selectivity_table(const std::string& dir, const StudyAnalysesOptions& o,
                                                         const StudyAnalyses& a) {
  const auto& variants = a.selectivity;
  std::string human = "study " + dir + ": class selectivity of every unit, the runs of a variant pooled, over " +
                      images_measured(a) + " (" + measured_at(o) + "): median [quartiles]\n";
  human += cell("block", kFirstColumn);
  for (const auto& v : variants) human += column_head(v.variant, v.runs);
  end_row(human);
  std::vector<std::string> blocks;
  for (const auto& v : variants)
    for (const auto& l : v.layers)
      if (std::find(blocks.begin(), blocks.end(), l.layer) == blocks.end()) blocks.push_back(l.layer);
  for (const auto& block : blocks) {
    human += cell(block, kFirstColumn);
    for (const auto& v : variants) {
      const auto l = std::find_if(v.layers.begin(), v.layers.end(), [&](const LayerCsi& x) { return x.layer == block; });
      const Quartiles q = l == v.layers.end() ? Quartiles{} : quartiles(l->csi);
      human += cell(l == v.layers.end() ? "-" : number("%.3f [%.3f, %.3f]", q.median, q.q1, q.q3), kColumn);
    }
    end_row(human);
  }
  nlohmann::json json = nlohmann::json::array();
  for (const auto& v : variants) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : v.layers) {
      const Quartiles q = quartiles(l.csi);
      layers.push_back({{"block", l.layer}, {"units", l.csi.size()}, {"q1", q.q1}, {"median", q.median},
                        {"q3", q.q3}, {"mean", band_of(l.csi).mean}});
    }
    json.push_back({{"variant", v.variant}, {"runs", v.runs}, {"blocks", layers}});
  }
  return {json, human};
}

// Pruning: per order, ratios × variants, the mean of the runs [min, max], in %.
std::pair<nlohmann::json, std::string> pruning_tables(const StudyAnalysesOptions& o, const StudyAnalyses& a) {
  const auto& curves = a.pruning;
  nlohmann::json json = nlohmann::json::array();
  std::string human;
  for (const auto& order : o.orders) {
    std::vector<const PooledCurve*> of_order;
    std::vector<double> ratios;
    for (const auto& c : curves) {
      if (c.order != order) continue;
      of_order.push_back(&c);
      for (const auto& [ratio, unused] : c.errors)
        if (std::find(ratios.begin(), ratios.end(), ratio) == ratios.end()) ratios.push_back(ratio);
    }
    if (of_order.empty()) continue;
    std::sort(ratios.begin(), ratios.end());
    human += "\n" + o.block + " pruned by " + order + " (" + measured_at(o) + "): top-1 error in % over " +
             images_measured(a) + ", the mean of the runs [min, max]" +
             (order == "random" && a.repeats > 1 ? " (each run the mean of its " + std::to_string(a.repeats) + " repeats)" : "") +
             "\n";
    human += cell("ratio", kFirstColumn);
    for (const PooledCurve* c : of_order) human += column_head(c->variant, c->runs);
    end_row(human);
    for (double ratio : ratios) {
      human += cell(number("%.2f", ratio), kFirstColumn);
      for (const PooledCurve* c : of_order) {
        const auto found = c->errors.find(ratio);
        const Band b = found == c->errors.end() ? Band{} : band_of(found->second);
        human += cell(found == c->errors.end() ? "-" : number("%.2f [%.2f, %.2f]", 100 * b.mean, 100 * b.low, 100 * b.high),
                      kColumn);
      }
      end_row(human);
    }
    for (const PooledCurve* c : of_order) {
      nlohmann::json points = nlohmann::json::array();
      for (const auto& [ratio, errors] : c->errors) {
        const Band b = band_of(errors);
        points.push_back({{"ratio", ratio}, {"mean", b.mean}, {"min", b.low}, {"max", b.high}, {"runs", errors}});
      }
      json.push_back({{"block", o.block}, {"order", order}, {"variant", c->variant}, {"runs", c->runs}, {"top1_error", points}});
    }
  }
  return {json, human};
}

// The pooled analyses as JSON and as tables for people.
std::pair<nlohmann::json, std::string> analyses_report(const std::string& dir, const StudyAnalysesOptions& o,
                                                       const StudyAnalyses& a) {
  nlohmann::json json = {{"study", dir}, {"limit", a.limit}, {"step", o.step >= 0 ? nlohmann::json(o.step) : nlohmann::json()},
                         {"computed", a.computed}, {"left_out", a.left_out}};
  if (a.selectivity.empty()) {
    json["selectivity"] = json["pruning"] = nlohmann::json::array();
    return {json, "study " + dir + ": no finished run yet (its study.csv lists none), nothing to pool\n"};
  }
  auto [selectivity, human] = selectivity_table(dir, o, a);
  auto [pruning, curves] = pruning_tables(o, a);
  json["selectivity"] = selectivity;
  json["pruning"] = pruning;
  return {json, human + curves};
}

}  // namespace

Command add_study_command(CLI::App& gex) {
  struct Flags {
    CommonFlags common;
    ModelFlags model;
    DataFlags data;
    RunFlags run;
    JobFlags job;
    std::vector<std::string> variants;
    int seeds = 0;
    std::string out, summary, progress = "text";
    std::string analyses;
    StudyAnalysesOptions analysis;
  };
  auto f = std::make_shared<Flags>();
  auto* app =
      gex.add_subcommand("study", "Train variants × seeds; summarise how sure the comparison is");
  add_model_flags(app, f->model);
  add_data_flags(app, f->data);
  app->add_option(
         "--variants", f->variants,
         "baseline, se, theta-minus, theta, theta-plus; a GE one at its own extent as theta:4")
      ->delimiter(',');
  app->add_option("--seeds", f->seeds, "Seeds 1 … K for every variant")->check(CLI::Range(1, 1000));
  add_run_flags(app, f->run);
  app->add_option("--out", f->out,
                  "Directory: DIR/<variant>/seed-<k>/, study.json, study.csv (resumable)");
  app->add_option("--summary", f->summary,
                  "Summarise the study in DIR (its study.csv) instead of training");
  app->add_option("--analyses", f->analyses,
                  "Pool the analyses of the study in DIR per variant (class selectivity; with --layer, "
                  "pruning curves), computing what its runs' analyses/ lack");
  app->add_option("--limit", f->analysis.limit, "--analyses: over the first N test images")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app->add_option("--layer", f->analysis.block, "--analyses: prune this block (layer3.2) or stage (layer3)");
  app->add_option("--order", f->analysis.orders, "--analyses: pruning orders (csi-desc,random by default)")
      ->delimiter(',');
  app->add_option("--repeats", f->analysis.repeats, "--analyses: repeats of the random order")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app->add_option("--step", f->analysis.step,
                  "--analyses: the runs' probes at step N instead of their best checkpoints (as recorded: "
                  "read, nothing computed; a run not probed there is left out)")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 50));
  app->add_option("--progress", f->progress,
                  "text|json: progress on stderr for people, or JSON lines (each run announced as "
                  "{\"run\": DIR})")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_job_flags(app, f->job);
  add_common_flags(app, f->common);
  return {
      app, [f, app]() -> int {
        for (const char* flag : {"--limit", "--layer", "--order", "--repeats", "--step"})
          if (app->count(flag) && f->analyses.empty()) throw UsageError(std::string(flag) + " goes with --analyses DIR");
        if (!f->analyses.empty()) {
          if (!f->out.empty() || !f->variants.empty() || f->seeds || !f->summary.empty())
            throw UsageError("--analyses DIR reads a study; give it with --limit, --layer, --order, --repeats, --step, --data, --device, --threads, --json");
          if (f->job.nproc > 1 && app->count("--step")) throw UsageError("--step reads files; leave --nproc out");
          for (const char* flag : {"--limit", "--repeats", "--data", "--device"})
            if (app->count("--step") && app->count(flag))
              throw UsageError(std::string("--step reads the probes as they were recorded (their test images, one random "
                                           "order); leave ") + flag + " out");
          if (const auto launched = launch_workers_if_asked(f->job)) return *launched;
          const auto group = join_job(f->job, app, f->common);  // each rank passes over its share
          apply_threads(f->common);
          auto& o = f->analysis;
          for (size_t k = 0; k < o.orders.size(); ++k)
            if (std::find(o.orders.begin(), o.orders.begin() + k, o.orders[k]) != o.orders.begin() + k)
              throw UsageError("--order names " + o.orders[k] + " twice");
          if (app->count("--data")) o.data = f->data.data;
          o.device = device_of_rank(choose_device(f->run.config.device), group.get()).str();
          o.shard = shard_of(group.get());
          o.write = speaks(group.get());
          if (group)
            o.check_data = [g = group.get()](const std::string& data, const DataIdentity& identity) {
              check_same_data(g, data, identity);
            };
          WorkControl control;
          o.control = &control;
          if (speaks(group.get())) {
            o.on_message = [](const std::string& m) { std::fprintf(stderr, "gex study: %s\n", m.c_str()); };
            o.progress = pass_progress("gex study", "images");
          }
          const StudyAnalyses result = [&] {
            const CancelOnSignal on_signal(group ? nullptr : &control);
            return study_analyses(f->analyses, o);
          }();
          if (!speaks(group.get())) return kExitOk;
          if (control.cancelled())
            throw Interrupted("interrupted; the " + std::to_string(result.computed.size()) +
                              " file(s) finished before are kept in the runs' analyses/ (run the same command "
                              "again to continue), the pass under way is not");
          const auto [json, human] = analyses_report(f->analyses, o, result);
          emit(f->common, json, human);
          return kExitOk;
        }
        if (!f->summary.empty()) {
          if (!f->out.empty() || !f->variants.empty() || f->seeds)
            throw UsageError("--summary DIR reads a study; give it alone (with --json)");
          const auto [json, human] = summary_report(f->summary, read_study_table(study_table_of(f->summary)));
          emit(f->common, json, human);
          return kExitOk;
        }
        if (f->out.empty() || f->variants.empty() || f->seeds == 0)
          throw UsageError("give --variants, --seeds K and --out DIR (or --summary DIR)");
        if (app->count("--attention") || app->count("--variant"))
          throw UsageError(
              "--variants chooses the attention of each run; leave --attention and --variant out");
        if (f->run.epochs && f->run.steps) throw UsageError("give --epochs or --steps, not both");
        const auto extent = parse_extent(f->model.extent);
        if (!extent)
          throw UsageError("--extent takes 2, 4, 8 or global, not '" + f->model.extent + "'");
        if (const auto launched = launch_workers_if_asked(f->job, f->run.config.batch))
          return *launched;
        f->run.config.dist_timeout = f->job.dist_timeout;
        const auto group = join_job(f->job, app, f->common);
        WorkControl control;
        install_signal_handlers(&control);
        TrainCallbacks callbacks;
        if (speaks(group.get()))
          callbacks = f->progress == "json" ? json_callbacks() : console_callbacks("gex study");
        // Checked before the data is read (a big folder takes a while), made on the model the data completes.
        const auto variants_of = [&](const ModelSpec& backbone) {
          std::vector<StudyVariant> variants;
          for (const auto& text : f->variants) {
            auto variant = study_variant(text, backbone, *extent);
            for (const auto& v : variants)
              if (v.name == variant.name) throw UsageError("--variants names " + v.name + " twice");
            variants.push_back(std::move(variant));
          }
          return variants;
        };
        variants_of(f->run.config.model);
        adopt_init_model(app, f->model, f->run);
        const Dataset data =
            load_for_run(f->model, f->data, f->run, f->common, callbacks.on_message);
        StudyPlan plan;
        plan.config = f->run.config;
        plan.config.seed = 0;
        plan.variants = variants_of(f->run.config.model);
        for (int k = 1; k <= f->seeds; ++k) plan.seeds.push_back(static_cast<uint64_t>(k));
        const bool json_progress = f->progress == "json";
        const auto on_run = [json_progress](const std::string& variant, uint64_t seed,
                                            const std::string& dir) {
          if (json_progress)
            std::fprintf(stderr, "%s\n",
                         nlohmann::json({{"run", dir}, {"variant", variant}, {"seed", seed}})
                             .dump()
                             .c_str());
          else
            std::fprintf(stderr, "%sgex study: %s seed %llu → %s\n",
                         ::isatty(STDERR_FILENO) ? "\r\033[K" : "", variant.c_str(),
                         static_cast<unsigned long long>(seed), dir.c_str());
          std::fflush(stderr);
        };
        const auto rows = run_study(f->out, plan, callbacks, control, &data, group.get(), on_run);
        install_signal_handlers(nullptr);
        if (!speaks(group.get())) return control.cancelled() ? kExitInterrupted : kExitOk;
        if (::isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
        bool all_finished = true;
        for (const auto& r : rows) all_finished = all_finished && r.finished;
        auto [json, human] = summary_report(f->out, rows);
        json["csv"] = f->out + "/study.csv";
        json["finished"] = all_finished;
        if (!all_finished) human = "interrupted; run the same command again to continue\n" + human;
        emit(f->common, json, human);
        return all_finished ? kExitOk : kExitInterrupted;
      }};
}

}  // namespace gex::cli
