// gex study --variants baseline,theta-minus,theta:4,theta-plus --seeds K [train flags] --out DIR:
// each variant trained with seeds 1 … K (DESIGN §6); gex study --summary DIR: how sure the
// comparison with the baseline is.
#include <torch/torch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "analysis/study.h"
#include "errors.h"
#include "gex/cli_support.h"
#include "gex/job.h"

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

std::string percent(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f", 100 * v);
  return text;
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
  app->add_option("--progress", f->progress,
                  "text|json: progress on stderr for people, or JSON lines (each run announced as "
                  "{\"run\": DIR})")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  add_job_flags(app, f->job);
  add_common_flags(app, f->common);
  return {
      app, [f, app]() -> int {
        if (!f->summary.empty()) {
          if (!f->out.empty() || !f->variants.empty() || f->seeds)
            throw UsageError("--summary DIR reads a study; give it alone (with --json)");
          // Said of the folder where it is not a study's (a typo, a run's folder given instead).
          if (!std::filesystem::is_directory(f->summary)) throw InputError(f->summary, "no such directory");
          const auto table = (std::filesystem::path(f->summary) / "study.csv").string();
          if (!std::filesystem::exists(table))
            throw InputError(f->summary, "not a study's folder (no study.csv: gex study --out writes one)");
          const auto [json, human] = summary_report(f->summary, read_study_table(table));
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
        adopt_init_model(app, f->model, f->run);
        const Dataset data =
            load_for_run(f->model, f->data, f->run, f->common, callbacks.on_message);
        StudyPlan plan;
        plan.config = f->run.config;
        plan.config.seed = 0;
        for (const auto& text : f->variants) {
          auto variant = study_variant(text, f->run.config.model, *extent);
          for (const auto& v : plan.variants)
            if (v.name == variant.name) throw UsageError("--variants names " + v.name + " twice");
          plan.variants.push_back(std::move(variant));
        }
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
