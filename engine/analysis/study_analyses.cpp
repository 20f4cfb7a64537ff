#include "analysis/study_analyses.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include <unistd.h>

#include "analysis/probe.h"
#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "analysis/study.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/device.h"
#include "train/run_dir.h"
#include "train/trainer.h"

namespace gex {

namespace fs = std::filesystem;

namespace {

// One study run as the analyses need it: its best checkpoint, loaded once, and its test images.
class RunAnalyses {
 public:
  RunAnalyses(const std::string& run, const StudyAnalysesOptions& options, std::map<std::string, Dataset>& data)
      : m_run(run), m_options(options), m_data(data), m_device(choose_device(options.device)) {}

  // Empty when measured at a step the run was not probed at.
  std::optional<std::vector<LayerCsi>> selectivity(std::vector<std::string>& computed) {
    if (m_options.step >= 0) {
      if (probe_dir().empty()) return std::nullopt;
      return csi_by_layer(read_selectivity_csv(probe_dir() + "/selectivity.csv"));
    }
    const std::string csv = file(selectivity_file(m_options.limit));
    SelectivityResult result;
    if (!missing(csv)) {
      result = read_selectivity_csv(csv);
    } else {
      SelectivityOptions so;
      so.limit = m_options.limit;
      so.device = m_device;
      so.shard = m_options.shard;
      so.control = m_options.control;
      so.progress = m_options.progress;
      so.on_message = m_options.on_message;
      say("computing the class selectivity of " + m_run);
      NetworkImpl& net = network();  // first: the test images are the checkpoint's size
      result = class_selectivity(net, test_images(), m_checkpoint->info.preprocess, so);
      if (cancelled()) return {};
      // Read back where written: the figures are the same whether computed now or read later.
      if (write(csv, computed, [&](const std::string& path) { write_selectivity_csv(path, result); }))
        result = read_selectivity_csv(csv);
    }
    return csi_by_layer(result);
  }

  // Empty when measured at a step the run was not probed at, or its probe there has no curve of the block.
  std::optional<std::vector<RatioError>> pruning(const std::string& order, std::vector<std::string>& computed) {
    const std::string csv = m_options.step >= 0 ? probe_curve() : file(pruning_file(m_options.block, order, m_options.limit));
    std::vector<PruneRow> rows;
    if (m_options.step >= 0) {
      if (csv.empty()) return std::nullopt;
      rows = read_pruning_csv(csv);
    } else if (!missing(csv)) {
      rows = read_pruning_csv(csv);
    } else {
      PruneOptions po;
      po.label = m_options.block;
      po.blocks = blocks_named(network(), m_options.block);  // loads the checkpoint
      if (po.blocks.empty())
        throw UsageError(m_run + "'s network has no block or stage " + m_options.block + " (its blocks are layer1.0 …)");
      po.order = order;
      po.repeats = order == "random" ? m_options.repeats : 1;
      po.limit = m_options.limit;
      po.device = m_device;
      po.shard = m_options.shard;
      po.control = m_options.control;
      po.on_message = m_options.on_message;
      say("computing " + m_run + "'s pruning curve of " + m_options.block + " by " + order);
      NetworkImpl& net = network();
      rows = pruning_curve(net, test_images(), m_checkpoint->info.preprocess, po);
      if (cancelled()) return {};
      if (write(csv, computed, [&](const std::string& path) { write_pruning_csv(path, rows); })) rows = read_pruning_csv(csv);
    }
    std::vector<RatioError> curve;
    for (const auto& r : rows)
      if (r.order == order) curve.push_back({r.ratio, r.top1_error});
    return curve;
  }

  const std::string& folder() const { return m_run; }

  // The run's settings (run.json), read once.
  const TrainConfig& config() {
    if (!m_config) m_config = RunDirectory::open(m_run).config();
    return *m_config;
  }

 private:
  // The run's probe folder at options.step; empty when it was not probed there.
  const std::string& probe_dir() {
    if (!m_probe) {
      m_probe.emplace();
      for (const ProbeRecord& r : read_probe_index(m_run))
        if (r.step == m_options.step) *m_probe = (fs::path(m_run) / "probes" / r.dir).string();
    }
    return *m_probe;
  }

  // Its probe's pruning curve of the block; empty when it has none.
  std::string probe_curve() {
    if (probe_dir().empty()) return {};
    const fs::path csv = fs::path(probe_dir()) / ("prune-" + m_options.block + ".csv");
    return fs::exists(csv) ? csv.string() : std::string();
  }

  // RUN/analyses/best-step-S/NAME: kept by the checkpoint they were measured at.
  std::string file(const std::string& name) {
    if (m_tag.empty()) m_tag = checkpoint_tag(RunDirectory::open(m_run).best_checkpoint());
    return (fs::path(m_run) / "analyses" / m_tag / name).string();
  }

  bool cancelled() const { return m_options.control && m_options.control->cancelled(); }

  // Whether the file must be computed: data-parallel, where any process lacks it (a shared disk's
  // caches may differ), so that every process takes part in the same passes.
  bool missing(const std::string& csv) const {
    const bool mine = !fs::exists(csv);
    if (m_options.shard.count == 1) return mine;
    torch::Tensor lacking = torch::full({1}, mine ? 1.0f : 0.0f, torch::TensorOptions().device(m_device));
    m_options.shard.reduce(lacking);
    return lacking.item<float>() > 0;
  }

  void say(const std::string& text) const {
    if (m_options.on_message) m_options.on_message(text);
  }

  // Into the run's analyses/ where it may write (true); a run on a read-only disk is measured all the same.
  bool write(const std::string& csv, std::vector<std::string>& computed,
             const std::function<void(const std::string&)>& write_to) const {
    if (!m_options.write) return false;  // another process of the job writes it
    const fs::path folder = fs::path(csv).parent_path();
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec || ::access(folder.c_str(), W_OK) != 0) {
      say(folder.string() + " cannot be written: " + fs::path(csv).filename().string() + " is not kept");
      return false;
    }
    write_to(csv);
    computed.push_back(csv);
    return true;
  }

  NetworkImpl& network() {
    if (!m_checkpoint) {
      m_checkpoint = std::make_unique<Checkpoint>(load_checkpoint(RunDirectory::open(m_run).best_checkpoint()));
      m_checkpoint->net->to(m_device);
      to_channels_last(*m_checkpoint->net);
    }
    return *m_checkpoint->net;
  }

  // The run's test split, loaded once for all the runs that share it: a folder without val/ holds
  // out each run's own files (drawn with its seed), so those are loaded per seed. Labelled by the
  // checkpoint's class names, as `gex selectivity` and `gex prune` label them.
  const Split& test_images() {
    const CheckpointInfo& info = m_checkpoint->info;
    const ModelSpec& spec = info.model;
    const TrainConfig& run = config();
    const std::string data = m_options.data.empty() ? run.data : m_options.data;
    std::string key = data + "@" + std::to_string(spec.input_size) + "x" + std::to_string(spec.in_channels);
    for (const auto& name : info.preprocess.class_names) key += "/" + name;
    const std::string seeded = key + "#seed" + std::to_string(run.seed);
    for (const std::string& k : {key, seeded})
      if (const auto found = m_data.find(k); found != m_data.end()) return checked(data, found->second).test;
    DataOptions options = checkpoint_data_options(info, m_options.on_message);
    options.cache_mb = run.cache_mb;
    options.loader_threads = run.loader_threads;
    options.decode_train = false;  // the analyses measure the test split
    Dataset loaded = load_dataset(data, options);
    if (loaded.channels != spec.in_channels || loaded.num_classes() != spec.num_classes)
      throw UsageError(data + " has " + std::to_string(loaded.channels) + " channel(s) and " +
                       std::to_string(loaded.num_classes()) + " classes; " + m_run + "'s network takes " +
                       std::to_string(spec.in_channels) + " and " + std::to_string(spec.num_classes));
    if (m_options.check_data) m_options.check_data(data, loaded.identity);
    const std::string& k = loaded.held_out_with ? seeded : key;
    loaded.train = {};  // let go: the analyses measure the test split
    return checked(data, m_data.emplace(k, std::move(loaded)).first->second).test;
  }

  // Said once per run where `data` holds other files than it trained on.
  const Dataset& checked(const std::string& data, const Dataset& loaded) {
    if (!m_checked_files && m_options.on_message) {
      const std::string note = other_files_note(m_run, data, RunDirectory::open(m_run).data_identity(), loaded);
      if (!note.empty()) m_options.on_message(note);
    }
    m_checked_files = true;
    return loaded;
  }

  std::string m_run;
  const StudyAnalysesOptions& m_options;
  std::map<std::string, Dataset>& m_data;  // their test splits only: a train split is let go
  bool m_checked_files = false;
  std::optional<TrainConfig> m_config;
  std::optional<std::string> m_probe;
  std::string m_tag;  // the best checkpoint's
  torch::Device m_device;
  std::unique_ptr<Checkpoint> m_checkpoint;
};

// "469, 938, …, 4690": a few of the steps, enough to pick one.
std::string steps_text(const std::set<int64_t>& steps) {
  std::string text;
  size_t k = 0;
  for (int64_t step : steps) {
    if (k == 8 && steps.size() > 10) {
      text += ", …, " + std::to_string(*steps.rbegin());
      break;
    }
    text += (k++ ? ", " : "") + std::to_string(step);
  }
  return text;
}

// Before anything is pooled at a step: UsageError where no run was probed there, or none of its
// probes there holds the block's curve, naming what the runs have instead.
void check_probed(const std::string& dir, const std::vector<std::string>& runs, const StudyAnalysesOptions& options) {
  std::set<int64_t> steps;
  std::set<std::string> curves;  // the blocks whose curves the probes at the step hold
  for (const auto& run : runs) {
    if (!fs::is_directory(run)) throw InputError(run, "no such run directory");
    for (const ProbeRecord& r : read_probe_index(run)) {
      steps.insert(r.step);
      if (r.step != options.step) continue;
      std::error_code ec;
      for (const auto& e : fs::directory_iterator(fs::path(run) / "probes" / r.dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("prune-", 0) == 0 && e.path().extension() == ".csv") curves.insert(e.path().stem().string().substr(6));
      }
    }
  }
  const std::string step = std::to_string(options.step);
  if (steps.empty())
    throw UsageError("--step: the runs of " + dir + " have no probes (gex train records them unless --no-probes; "
                     "gex probe RUN computes them from a run's kept checkpoints)");
  if (!steps.count(options.step))
    throw UsageError("--step: no run of " + dir + " was probed at step " + step + " (probed steps: " + steps_text(steps) + ")");
  if (options.block.empty() || curves.count(options.block)) return;
  std::string held;
  for (const auto& c : curves) held += (held.empty() ? "" : ", ") + c;
  throw UsageError("--layer: no probe at step " + step + " holds a pruning curve of " + options.block +
                   (held.empty() ? " (the runs were trained without --probe-prune BLOCK)" : " (they hold " + held + ")"));
}

// Before anything is measured: UsageError where the study's network (one backbone for all its runs)
// has no block or stage of that name, naming its blocks.
void check_block(const std::string& run, const std::string& block) {
  if (block.empty()) return;
  const Network net = build_network(read_checkpoint_info(RunDirectory::open(run).best_checkpoint()).model);
  if (!blocks_named(*net, block).empty()) return;
  throw UsageError("--layer: " + run + "'s network has no block or stage " + block + " (blocks: " + block_list(*net) + ")");
}

}  // namespace

StudyAnalyses study_analyses(const std::string& dir, const StudyAnalysesOptions& options) {
  const fs::path table = study_table_of(dir);
  for (const auto& order : options.orders)
    if (!is_prune_order(order)) throw UsageError("unknown --order '" + order + "'");
  // The finished runs of each variant, in the study's order.
  std::vector<std::pair<std::string, std::vector<std::string>>> variants;
  std::vector<std::string> all_runs;
  for (const StudyRow& row : read_study_table(table.string())) {
    auto it = std::find_if(variants.begin(), variants.end(), [&](const auto& v) { return v.first == row.variant; });
    if (it == variants.end()) it = variants.insert(variants.end(), {row.variant, {}});
    it->second.push_back(row.run);
    all_runs.push_back(row.run);
  }
  const bool at_step = options.step >= 0;
  if (at_step && !all_runs.empty()) check_probed(dir, all_runs, options);
  if (!at_step && !all_runs.empty()) check_block(all_runs.front(), options.block);
  StudyAnalyses out;
  out.limit = options.limit;
  out.repeats = at_step ? 1 : options.repeats;  // a probe records one random order
  std::set<int64_t> probe_limits;
  std::map<std::string, Dataset> data;
  const auto cancelled = [&] { return options.control && options.control->cancelled(); };
  const std::string where = " at step " + std::to_string(options.step);
  const auto leave_out = [&](const std::string& run, const std::string& why) {
    if (options.on_message) options.on_message(run + why + ": left out");
    if (std::find(out.left_out.begin(), out.left_out.end(), run) == out.left_out.end()) out.left_out.push_back(run);
  };
  for (const auto& [variant, runs] : variants) {
    std::vector<RunAnalyses> analyses;
    for (const auto& run : runs) analyses.emplace_back(run, options, data);
    std::vector<std::vector<LayerCsi>> csi;
    std::vector<RunAnalyses*> measured;  // the runs with a selectivity (at the step: those probed there)
    for (size_t k = 0; k < analyses.size(); ++k) {
      auto layers = analyses[k].selectivity(out.computed);
      if (cancelled()) return out;
      if (!layers) {
        leave_out(runs[k], " has no probe" + where);
        continue;
      }
      csi.push_back(std::move(*layers));
      measured.push_back(&analyses[k]);
      if (at_step) probe_limits.insert(analyses[k].config().probe_limit);
    }
    out.selectivity.push_back({variant, int(csi.size()), pool_selectivity(csi)});
    if (options.block.empty()) continue;
    for (const auto& order : options.orders) {
      std::vector<std::vector<RatioError>> curves;
      for (size_t k = 0; k < measured.size(); ++k) {
        auto curve = measured[k]->pruning(order, out.computed);
        if (cancelled()) return out;
        if (curve) curves.push_back(std::move(*curve));
        else if (order == options.orders.front()) leave_out(measured[k]->folder(), "'s probe" + where + " holds no pruning curve of " + options.block);
      }
      out.pruning.push_back({variant, order, int(curves.size()), pool_pruning(curves)});
    }
  }
  if (!probe_limits.empty()) out.limit = *probe_limits.begin();
  if (probe_limits.size() > 1 && options.on_message)
    options.on_message("the runs' probes measured different numbers of test images (" +
                       std::to_string(*probe_limits.begin()) + " to " + std::to_string(*probe_limits.rbegin()) +
                       "): pooled all the same");
  std::stable_sort(out.pruning.begin(), out.pruning.end(), [&](const PooledCurve& a, const PooledCurve& b) {
    const auto rank = [&](const std::string& o) { return std::find(options.orders.begin(), options.orders.end(), o) - options.orders.begin(); };
    return rank(a.order) < rank(b.order);
  });
  return out;
}

}  // namespace gex
