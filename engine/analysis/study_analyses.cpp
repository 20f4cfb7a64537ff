#include "analysis/study_analyses.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>

#include <unistd.h>

#include "analysis/pruning.h"
#include "analysis/selectivity.h"
#include "analysis/study.h"
#include "errors.h"
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

  std::vector<LayerCsi> selectivity(std::vector<std::string>& computed) {
    const std::string csv = file(selectivity_file(m_options.limit));
    SelectivityResult result;
    if (fs::exists(csv)) {
      result = read_selectivity_csv(csv);
    } else {
      SelectivityOptions so;
      so.limit = m_options.limit;
      so.device = m_device;
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

  std::vector<RatioError> pruning(const std::string& order, std::vector<std::string>& computed) {
    const std::string csv = file(pruning_file(m_options.block, order, m_options.limit));
    std::vector<PruneRow> rows;
    if (fs::exists(csv)) {
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

 private:
  std::string file(const std::string& name) const { return (fs::path(m_run) / "analyses" / name).string(); }

  bool cancelled() const { return m_options.control && m_options.control->cancelled(); }

  void say(const std::string& text) const {
    if (m_options.on_message) m_options.on_message(text);
  }

  // Into the run's analyses/ where it may write (true); a run on a read-only disk is measured all the same.
  bool write(const std::string& csv, std::vector<std::string>& computed,
             const std::function<void(const std::string&)>& write_to) const {
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
      const RunDirectory run = RunDirectory::open(m_run);
      m_config = run.config();
      m_checkpoint = std::make_unique<Checkpoint>(load_checkpoint(run.best_checkpoint()));
      m_checkpoint->net->to(m_device);
      to_channels_last(*m_checkpoint->net);
    }
    return *m_checkpoint->net;
  }

  // The run's test split, loaded once for all the runs that share a data set.
  const Split& test_images() {
    const ModelSpec& spec = m_checkpoint->info.model;
    TrainConfig config = m_config;
    if (!m_options.data.empty()) config.data = m_options.data;
    const std::string key = config.data + "@" + std::to_string(spec.input_size) + "x" + std::to_string(spec.in_channels);
    auto found = m_data.find(key);
    if (found == m_data.end()) {
      Dataset data = load_training_data(config, {spec.num_classes, spec.in_channels, spec.input_size}, m_options.on_message);
      if (data.channels != spec.in_channels || data.num_classes() != spec.num_classes)
        throw UsageError(config.data + " has " + std::to_string(data.channels) + " channel(s) and " +
                         std::to_string(data.num_classes()) + " classes; " + m_run + "'s network takes " +
                         std::to_string(spec.in_channels) + " and " + std::to_string(spec.num_classes));
      found = m_data.emplace(key, std::move(data)).first;
    }
    return found->second.test;
  }

  std::string m_run;
  const StudyAnalysesOptions& m_options;
  std::map<std::string, Dataset>& m_data;
  TrainConfig m_config;
  torch::Device m_device;
  std::unique_ptr<Checkpoint> m_checkpoint;
};

}  // namespace

StudyAnalyses study_analyses(const std::string& dir, const StudyAnalysesOptions& options) {
  require_directory(dir);
  const fs::path table = fs::path(dir) / "study.csv";
  if (!fs::exists(table)) throw InputError(dir, "not a study's folder (no study.csv: gex study --out writes one)");
  for (const auto& order : options.orders)
    if (!is_prune_order(order)) throw UsageError("unknown --order '" + order + "'");
  // The finished runs of each variant, in the study's order.
  std::vector<std::pair<std::string, std::vector<std::string>>> variants;
  for (const StudyRow& row : read_study_table(table.string())) {
    auto it = std::find_if(variants.begin(), variants.end(), [&](const auto& v) { return v.first == row.variant; });
    if (it == variants.end()) it = variants.insert(variants.end(), {row.variant, {}});
    it->second.push_back(row.run);
  }
  StudyAnalyses out;
  std::map<std::string, Dataset> data;
  const auto cancelled = [&] { return options.control && options.control->cancelled(); };
  for (const auto& [variant, runs] : variants) {
    std::vector<RunAnalyses> analyses;
    for (const auto& run : runs) analyses.emplace_back(run, options, data);
    std::vector<std::vector<LayerCsi>> csi;
    for (auto& run : analyses) {
      csi.push_back(run.selectivity(out.computed));
      if (cancelled()) return out;
    }
    out.selectivity.push_back({variant, int(runs.size()), pool_selectivity(csi)});
    if (options.block.empty()) continue;
    for (const auto& order : options.orders) {
      std::vector<std::vector<RatioError>> curves;
      for (auto& run : analyses) {
        curves.push_back(run.pruning(order, out.computed));
        if (cancelled()) return out;
      }
      out.pruning.push_back({variant, order, int(runs.size()), pool_pruning(curves)});
    }
  }
  std::stable_sort(out.pruning.begin(), out.pruning.end(), [&](const PooledCurve& a, const PooledCurve& b) {
    const auto rank = [&](const std::string& o) { return std::find(options.orders.begin(), options.orders.end(), o) - options.orders.begin(); };
    return rank(a.order) < rank(b.order);
  });
  return out;
}

}  // namespace gex
