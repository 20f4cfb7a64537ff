#include "analysis/study.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>

#include "dist/process_group.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "models/registry.h"
#include "train/planned_run.h"
#include "train/run_dir.h"

namespace gex {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStudyFormat = "gex-study/1";
constexpr const char* kStudyHeader =
    "variant,seed,params,macs,best_top1_error,final_top1_error,images_per_second,run";

bool writes(const ProcessGroup* group) { return !group || group->rank() == 0; }

template <class T>
void append_new(std::vector<T>& to, const std::vector<T>& from) {
  for (const auto& x : from)
    if (std::find(to.begin(), to.end(), x) == to.end()) to.push_back(x);
}

}  // namespace

StudyVariant study_variant(const std::string& text, const ModelSpec& backbone, int default_extent) {
  std::string name = text;
  int extent = default_extent;
  std::string extent_text;
  if (const auto colon = text.find(':'); colon != std::string::npos) {
    name = text.substr(0, colon);
    extent_text = text.substr(colon + 1);
  } else if (const auto e = text.rfind("-e"); e != std::string::npos && e + 2 < text.size()) {
    name = text.substr(0, e);
    extent_text = text.substr(e + 2);
  }
  if (!extent_text.empty()) {
    const auto parsed = parse_extent(extent_text);
    if (!parsed)
      throw UsageError("--variants: '" + text + "' asks for extent '" + extent_text +
                       "' (2, 4, 8 or global)");
    extent = *parsed;
  }
  StudyVariant v;
  v.model = backbone;
  v.model.extent = extent;
  if (name == "baseline" || name == "se") {
    if (!extent_text.empty())
      throw UsageError("--variants: '" + text + "' has no extent (only GE variants do)");
    v.model.attention = name == "se" ? AttentionKind::kSE : AttentionKind::kNone;
    v.name = name;
  } else if (const auto variant = parse_variant(name)) {
    v.model.attention = AttentionKind::kGE;
    v.model.variant = *variant;
    v.name = name + (extent == 0 ? "" : "-e" + std::to_string(extent));
  } else {
    throw UsageError("--variants: '" + text +
                     "' is not baseline, se, theta-minus, theta or theta-plus (a GE one at another extent: "
                     "theta:4 or theta-e4)");
  }
  if (const auto problem = v.model.problem())
    throw UsageError("--variants: " + text + ": " + *problem);
  return v;
}

TrainConfig StudyPlan::run_config(const StudyVariant& variant, uint64_t seed) const {
  TrainConfig c = config;
  c.model = variant.model;
  c.seed = seed;
  return c;
}

std::string StudyPlan::to_json() const {
  nlohmann::ordered_json j;
  j["format"] = kStudyFormat;
  j["config"] = nlohmann::ordered_json::parse(config.to_json());
  j["variants"] = nlohmann::ordered_json::array();
  for (const auto& v : variants)
    j["variants"].push_back(
        {{"name", v.name}, {"model", nlohmann::ordered_json::parse(v.model.to_json())}});
  j["seeds"] = seeds;
  return j.dump(2) + "\n";
}

StudyPlan StudyPlan::from_json(const std::string& text, const std::string& source) {
  StudyPlan plan;
  try {
    const auto j = nlohmann::json::parse(text);
    if (j.value("format", "") != kStudyFormat)
      throw InputError(source, "is not a study plan (format gex-study/1)");
    plan.config = TrainConfig::from_json(j.at("config").dump(), source);
    for (const auto& v : j.at("variants"))
      plan.variants.push_back(
          {v.at("name").get<std::string>(), ModelSpec::from_json(v.at("model").dump(), source)});
    plan.seeds = j.at("seeds").get<std::vector<uint64_t>>();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(source, std::string("is not a readable study plan: ") + e.what());
  }
  return plan;
}

std::string study_run_dir(const std::string& out_dir, const std::string& variant, uint64_t seed) {
  return (fs::path(out_dir) / variant / ("seed-" + std::to_string(seed))).string();
}

StudyPlan merge_with_recorded(const std::string& out_dir, const StudyPlan& plan,
                              const std::function<void(const std::string&)>& on_message) {
  const std::string path = (fs::path(out_dir) / "study.json").string();
  if (!fs::exists(path)) return plan;
  StudyPlan recorded = StudyPlan::from_json(read_file(path), path);
  if (data_elsewhere(recorded.config, plan.config)) {
    if (on_message)
      on_message(out_dir + " was planned on " + recorded.config.data + "; it goes on with " + plan.config.data +
                 " (the same kind of data at another place)");
    recorded.config.data = plan.config.data;
  }
  if (const auto field = experiment_difference(recorded.config, plan.config); !field.empty())
    throw UsageError(path + " records a study with another " + field +
                     "; continue it with the same settings or choose another --out");
  for (const auto& v : plan.variants) {
    const auto same = std::find_if(recorded.variants.begin(), recorded.variants.end(),
                                   [&](const StudyVariant& r) { return r.name == v.name; });
    if (same == recorded.variants.end())
      recorded.variants.push_back(v);
    else if (!(same->model == v.model))
      throw UsageError(path + " records variant " + v.name +
                       " with another model; choose another --out");
  }
  append_new(recorded.seeds, plan.seeds);
  recorded.config = plan.config;  // the length asked now (a longer one extends the runs)
  return recorded;
}

StudyRow study_row(const std::string& run_dir, const std::string& variant, uint64_t seed) {
  const auto run = RunDirectory::open(run_dir);
  StudyRow row;
  row.variant = variant;
  row.seed = seed;
  auto net = build_network(run.config().model);
  const auto size = measure_complexity(*net);
  row.params = size.params;
  row.macs = size.macs;
  const auto result = run_result(read_metrics(run.metrics_path()));
  row.best_top1_error = result.best_top1_error;
  row.final_top1_error = result.final_top1_error;
  row.images_per_second = result.images_per_second;
  row.run = run_dir;
  row.finished = run.status() == RunStatus::kFinished;
  return row;
}

void write_study_table(const std::string& path, const std::vector<StudyRow>& rows) {
  std::string text = std::string(kStudyHeader) + "\n";
  const fs::path base = fs::path(path).parent_path();
  char line[1024];
  for (const auto& r : rows) {
    const std::string run =
        fs::path(r.run).lexically_relative(base).string();  // the study can move
    std::snprintf(line, sizeof line, "%s,%llu,%lld,%lld,%.6g,%.6g,%.1f,%s\n", r.variant.c_str(),
                  static_cast<unsigned long long>(r.seed), static_cast<long long>(r.params),
                  static_cast<long long>(r.macs), r.best_top1_error, r.final_top1_error,
                  r.images_per_second, (run.empty() ? r.run : run).c_str());
    text += line;
  }
  write_file_atomically(path, {text});
}

std::string study_table_of(const std::string& dir) {
  const fs::path given(dir), folder = given.has_filename() ? given : given.parent_path();
  std::error_code ec;
  const auto is_study = [&](const fs::path& p) { return fs::is_regular_file(p / "study.csv", ec); };
  const auto parent_of = [&](const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::current_path(ec); };
  if (fs::is_regular_file(folder, ec)) {
    if ((folder.filename() == "study.json" || folder.filename() == "study.csv") && is_study(parent_of(folder)))
      throw InputError(dir, "is a study's " + folder.filename().string() + ", not its folder: give the study, " +
                                parent_of(folder).string());
    throw InputError(dir, "is a file, not a study's folder");
  }
  if (!fs::is_directory(folder, ec)) throw InputError(dir, "no such directory");
  if (is_study(folder)) return (folder / "study.csv").string();
  // DIR/<variant>/seed-<k>/: a variant's folder, or one of its runs.
  for (const fs::path& study : {parent_of(folder), parent_of(parent_of(folder))})
    if (is_study(study))
      throw InputError(dir, "is a folder of the study " + study.string() + ", not the study's own: give " + study.string());
  if (fs::is_regular_file(folder / "run.json", ec))
    throw InputError(dir, "is a run, not a study's folder (no study.csv: gex study --out writes one)");
  throw InputError(dir, "not a study's folder (no study.csv: gex study --out writes one)");
}

std::vector<StudyRow> read_study_table(const std::string& path) {
  std::istringstream in(read_file(path));
  std::string line;
  if (!std::getline(in, line) || line != kStudyHeader)
    throw InputError(path, std::string("line 1 is not the header ") + kStudyHeader);
  std::vector<StudyRow> rows;
  for (int number = 2; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    std::vector<std::string> f;
    std::stringstream fields(line);
    for (std::string x; std::getline(fields, x, ',');) f.push_back(x);
    const auto bad = [&](const std::string& why) {
      return InputError(path + ":" + std::to_string(number), why);
    };
    if (f.size() != 8) throw bad("has " + std::to_string(f.size()) + " fields, not 8");
    StudyRow r;
    try {
      size_t used = 0;
      const auto whole = [&](const std::string& s) {
        if (used != s.size()) throw std::invalid_argument(s);
      };
      r.variant = f[0];
      r.seed = std::stoull(f[1], &used), whole(f[1]);
      r.params = std::stoll(f[2], &used), whole(f[2]);
      r.macs = std::stoll(f[3], &used), whole(f[3]);
      r.best_top1_error = std::stod(f[4], &used), whole(f[4]);
      r.final_top1_error = std::stod(f[5], &used), whole(f[5]);
      r.images_per_second = std::stod(f[6], &used), whole(f[6]);
    } catch (const std::exception&) {
      throw bad("has a field that is not a number");
    }
    if (r.variant.empty() || !(r.final_top1_error >= 0 && r.final_top1_error <= 1) ||
        !(r.best_top1_error >= 0 && r.best_top1_error <= 1))
      throw bad("has no variant or an error outside [0, 1]");
    r.run = (fs::path(path).parent_path() / f[7]).string();
    r.finished = true;
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<StudyRow> run_study(const std::string& out_dir, const StudyPlan& asked,
                                const TrainCallbacks& callbacks, WorkControl& control,
                                const Dataset* data, ProcessGroup* group,
                                const StudyRunStart& on_run) {
  if (asked.variants.empty() || asked.seeds.empty())
    throw UsageError("a study needs variants and seeds");
  const StudyPlan plan =
      merge_with_recorded(out_dir, asked, writes(group) ? callbacks.on_message : nullptr);
  const std::string table = (fs::path(out_dir) / "study.csv").string();
  if (writes(group)) {
    make_directories(out_dir);
    write_file_atomically((fs::path(out_dir) / "study.json").string(), {plan.to_json()});
  }
  std::vector<StudyRow> rows;
  const auto finished_rows = [&] {
    std::vector<StudyRow> done;
    for (const auto& r : rows)
      if (r.finished) done.push_back(r);
    return done;
  };
  for (const uint64_t seed : plan.seeds) {
    // A folder without val/ holds out files by the run's seed: the seed's runs share its loading.
    std::optional<Dataset> seeded;
    if (data && data->held_out_with && *data->held_out_with != seed && !control.cancelled()) {
      const TrainConfig c = plan.run_config(plan.variants.front(), seed);
      seeded = load_training_data(c, {c.model.num_classes, c.model.in_channels, c.model.input_size});
    }
    const Dataset* seed_data = seeded ? &*seeded : data;
    for (const auto& variant : plan.variants) {
      const std::string dir = study_run_dir(out_dir, variant.name, seed);
      StudyRow row;
      row.variant = variant.name;
      row.seed = seed;
      row.run = dir;
      if (!control.cancelled()) {
        if (on_run && writes(group)) on_run(variant.name, seed, dir);
        if (writes(group)) make_directories(fs::path(dir).parent_path().string());
        const auto summary =
            run_planned(dir, plan.run_config(variant, seed), callbacks, control, seed_data, group);
        if (!summary.cancelled) row = study_row(dir, variant.name, seed);
      }
      rows.push_back(row);
      if (writes(group)) write_study_table(table, finished_rows());
    }
  }
  return rows;
}

}  // namespace gex
