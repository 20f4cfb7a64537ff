#include "analysis/selectivity.h"

#include <cstdio>
#include <map>

#include "data/batch_stream.h"
#include "data/batches.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/csv.h"
#include "train/cuda_graph.h"

namespace gex {

namespace {
constexpr const char* kSelectivityHeader = "layer,unit,csi,max_class,mean_activation";
}  // namespace

double class_selectivity_index(const std::vector<double>& means, int* max_class) {
  if (means.empty()) return 0.0;
  int best = 0;
  for (size_t k = 1; k < means.size(); ++k)
    if (means[k] > means[best]) best = static_cast<int>(k);
  if (max_class) *max_class = best;
  double others = 0;
  for (size_t k = 0; k < means.size(); ++k)
    if (static_cast<int>(k) != best) others += means[k];
  const double rest = means.size() > 1 ? others / double(means.size() - 1) : 0.0;
  const double denominator = means[best] + rest;
  return denominator == 0.0 ? 0.0 : (means[best] - rest) / denominator;
}

SelectivityResult class_selectivity(NetworkImpl& net, const Split& split, const Preprocess& preprocess,
                                    const SelectivityOptions& options) {
  SelectivityResult result;
  const int64_t total = options.limit > 0 ? std::min(options.limit, split.size()) : split.size();
  const int64_t classes = std::max<int64_t>(split.size() ? split.labels.max().item<int64_t>() + 1 : 0,
                                            static_cast<int64_t>(preprocess.class_names.size()));
  const auto blocks = net.blocks();
  // Per block: Σ over images of each class of the spatial mean of each channel (K×C, float64).
  std::vector<torch::Tensor> sums(blocks.size());
  torch::Tensor labels;  // of the batch in flight
  for (size_t b = 0; b < blocks.size(); ++b) {
    result.layers.push_back(blocks[b].first);
    sums[b] = torch::zeros({classes, blocks[b].second->out_channels()},
                           torch::TensorOptions().dtype(torch::kFloat64).device(options.device));
    blocks[b].second->set_output_hook([&, b](const torch::Tensor& y) {
      sums[b].index_add_(0, labels, y.mean({2, 3}).to(torch::kFloat64));
      return y;
    });
  }
  const BatchMaker make_batch(preprocess, false);
  net.eval();
  torch::NoGradGuard no_grad;
  auto counts = torch::zeros({classes}, torch::kFloat64);
  auto hits = torch::zeros({1}, torch::TensorOptions().dtype(torch::kFloat64).device(options.device));
  try {
    int64_t done = 0;
    const int64_t begin = options.shard.begin(total), end = options.shard.end(total);
    // The hooks read `labels`, set here: in a graph they read the captured batch's labels.
    const auto forward = [&](const torch::Tensor& x, const torch::Tensor& y) {
      labels = y;
      const auto logits = net.forward(x);
      hits += std::get<1>(logits.topk(1, 1)).select(1, 0).eq(labels).sum();  // as evaluate() counts
      return std::vector<torch::Tensor>{};
    };
    std::unique_ptr<GraphedFunction> graph;
    if (options.cuda_graph)
      graph = GraphedFunction::create(
          options.device, [&](const std::vector<torch::Tensor>& in) { return forward(in[0], in[1]); }, 1);
    for_each_batch(split, begin, end, options.batch, [&](const Rows& rows) {
      if (cancelled(options.control)) return false;
      const int64_t n = rows.labels.size(0);
      if (n > 0) {
        counts.index_add_(0, rows.labels, torch::ones({n}, torch::kFloat64));
        const auto x = make_batch(to_device(rows.images, options.device));
        const auto y = to_device(rows.labels, options.device);
        if (!graph || n != options.batch || !graph->run({x, y})) forward(x, y);
      }
      result.images += n;
      done = std::min(end - begin, done + options.batch);
      if (options.progress) options.progress(done, end - begin);
      return true;
    });
    say_graph_outcome(graph.get(), "class selectivity's forward passes", options.on_message);
  } catch (...) {
    for (auto& [name, block] : blocks) block->set_output_hook(nullptr);
    throw;
  }
  for (auto& [name, block] : blocks) block->set_output_hook(nullptr);
  if (options.shard.count > 1) {  // the sums of every process: each image counted once
    for (auto& s : sums) s = s.cpu(), options.shard.reduce(s);
    auto images = torch::full({1}, double(result.images), torch::kFloat64);
    hits = hits.cpu();
    options.shard.reduce(counts);
    options.shard.reduce(images);
    options.shard.reduce(hits);
    result.images = static_cast<int64_t>(images.item<double>());
  }
  result.top1_error = result.images > 0 ? 1.0 - hits.item<double>() / double(result.images) : 0.0;

  // Classes without images in the split take no part in μ.
  const auto present = counts.gt(0);
  const auto present_idx = present.nonzero().flatten();
  for (size_t b = 0; b < blocks.size(); ++b) {
    const auto s = sums[b].cpu();
    const auto means = s.index_select(0, present_idx) / counts.index_select(0, present_idx).unsqueeze(1);
    const auto overall = s.sum(0) / std::max<double>(1.0, double(result.images));
    const auto m = means.contiguous();
    const auto ma = m.accessor<double, 2>();
    const auto oa = overall.accessor<double, 1>();
    const auto pa = present_idx.accessor<int64_t, 1>();
    for (int64_t c = 0; c < m.size(1); ++c) {
      std::vector<double> class_means(m.size(0));
      for (int64_t k = 0; k < m.size(0); ++k) class_means[k] = ma[k][c];
      UnitSelectivity u;
      u.layer = blocks[b].first;
      u.unit = static_cast<int>(c);
      int best = 0;
      u.csi = class_selectivity_index(class_means, &best);
      u.max_class = class_means.empty() ? 0 : static_cast<int>(pa[best]);
      u.mean_activation = oa[c];
      result.units.push_back(u);
    }
  }
  return result;
}

void write_selectivity_csv(const std::string& path, const SelectivityResult& result) {
  std::string text = std::string(kSelectivityHeader) + "\n";
  char line[256];
  for (const auto& u : result.units) {
    std::snprintf(line, sizeof line, "%s,%d,%.9g,%d,%.9g\n", u.layer.c_str(), u.unit, u.csi, u.max_class,
                  u.mean_activation);
    text += line;
  }
  write_file_atomically(path, {text});
}

SelectivityResult read_selectivity_csv(const std::string& path) {
  SelectivityResult result;
  for (const CsvRow& row : read_csv(path, kSelectivityHeader)) {
    UnitSelectivity u{row.fields[0], csv_int(row, 1), csv_number(row, 2), csv_int(row, 3), csv_number(row, 4)};
    if (u.layer.empty() || !(u.csi >= 0 && u.csi <= 1)) throw InputError(row.where, "has no layer or a CSI outside [0, 1]");
    if (result.layers.empty() || result.layers.back() != u.layer) result.layers.push_back(u.layer);
    result.units.push_back(std::move(u));
  }
  return result;
}

std::vector<LayerCsi> csi_by_layer(const SelectivityResult& result) {
  std::vector<LayerCsi> layers;
  for (const auto& u : result.units) {
    if (layers.empty() || layers.back().layer != u.layer) layers.push_back({u.layer, {}});
    layers.back().csi.push_back(u.csi);
  }
  return layers;
}

std::string selectivity_file(int64_t limit) { return "selectivity-test-" + std::to_string(limit) + ".csv"; }

}  // namespace gex
