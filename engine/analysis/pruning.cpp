#include "analysis/pruning.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "analysis/selectivity.h"
#include "data/batch_stream.h"
#include "data/batches.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/csv.h"
#include "train/cuda_graph.h"
#include "train/evaluate.h"

namespace gex {

namespace {

constexpr const char* kPruningHeader = "layer,order,ratio,repeat,top1_error,top5_error";

const char* const kOrders[] = {"csi-desc", "csi-asc", "act-desc", "act-asc", "l1-desc",
                               "l1-asc",   "gate-desc", "gate-asc", "random"};

// Per block, a score per output channel: the channels with the highest go first for `-desc`.
std::vector<torch::Tensor> channel_scores(NetworkImpl& net, const std::vector<std::shared_ptr<ResidualBlockImpl>>& blocks,
                                          const std::vector<std::string>& names, const Split& split,
                                          const Preprocess& preprocess, const PruneOptions& o) {
  const std::string kind = o.order.substr(0, o.order.find('-'));
  std::vector<torch::Tensor> scores;
  if (kind == "csi" || kind == "act") {
    SelectivityOptions so;
    so.limit = o.limit;
    so.batch = o.batch;
    so.device = o.device;
    so.control = o.control;
    so.shard = o.shard;
    const auto sel = class_selectivity(net, split, preprocess, so);
    for (const auto& name : names) {
      std::vector<double> v;
      for (const auto& u : sel.units)
        if (u.layer == name) v.push_back(kind == "csi" ? u.csi : u.mean_activation);
      scores.push_back(torch::tensor(v, torch::kFloat64));
    }
  } else if (kind == "l1") {
    for (const auto& block : blocks) {
      auto w = block->last_conv_weight().detach().cpu().to(torch::kFloat64);
      auto l1 = w.abs().flatten(1).sum(1);
      // Channels that no convolution produces (ShuffleNet's pooled shortcut) score 0.
      auto all = torch::zeros({block->out_channels()}, torch::kFloat64);
      const int64_t offset = block->out_channels() - l1.size(0);
      all.slice(0, offset, block->out_channels()).copy_(l1);
      scores.push_back(all);
    }
  } else if (kind == "gate") {
    std::vector<torch::Tensor> sums;
    for (size_t b = 0; b < blocks.size(); ++b) {
      if (!blocks[b]->attention())
        throw UsageError("--order " + o.order + " needs attention modules; " + names[b] + " has none");
      blocks[b]->attention()->set_capture(true);
      sums.push_back(torch::zeros({blocks[b]->out_channels()}, torch::kFloat64));
    }
    const BatchMaker make_batch(preprocess, false);
    const int64_t total = o.limit > 0 ? std::min(o.limit, split.size()) : split.size();
    torch::NoGradGuard no_grad;
    int64_t seen = for_each_batch(split, o.shard.begin(total), o.shard.end(total), o.batch, [&](const Rows& rows) {
      if (rows.labels.size(0) == 0) return true;
      net.forward(make_batch(rows.images).to(o.device));
      for (size_t b = 0; b < blocks.size(); ++b) {
        const auto& g = blocks[b]->attention()->last_gate();
        // The gate covers the branch channels (the last ones); a concatenated shortcut has none (0).
        auto per = g.mean({2, 3}).sum(0).to(torch::kFloat64).cpu();
        const int64_t out = blocks[b]->out_channels();
        sums[b].slice(0, out - per.size(0), out).add_(per);
      }
      return true;
    });
    if (o.shard.count > 1) {
      for (auto& s : sums) o.shard.reduce(s);
      auto n = torch::full({1}, double(seen), torch::kFloat64);
      o.shard.reduce(n);
      seen = static_cast<int64_t>(n.item<double>());
    }
    for (size_t b = 0; b < blocks.size(); ++b) {
      blocks[b]->attention()->set_capture(false);
      scores.push_back(sums[b] / double(std::max<int64_t>(1, seen)));
    }
  }
  return scores;
}

}  // namespace

bool is_prune_order(const std::string& order) {
  for (const char* o : kOrders)
    if (order == o) return true;
  return false;
}

void check_prune_options(NetworkImpl& net, const PruneOptions& o) {
  if (!is_prune_order(o.order))
    throw UsageError("unknown --order '" + o.order +
                     "' (csi-desc, csi-asc, act-desc, act-asc, l1-desc, l1-asc, gate-desc, gate-asc, random)");
  for (double r : o.ratios)
    if (!(r >= 0 && r <= 1)) throw UsageError("--ratios must lie in [0, 1]");
  if (o.blocks.empty()) throw UsageError("give a block (--layer) or a stage (--stage) to prune");
  const auto all = net.blocks();
  for (const auto& name : o.blocks)
    if (std::none_of(all.begin(), all.end(), [&](const auto& b) { return b.first == name; }))
      throw UsageError("no block '" + name + "' in this model (blocks: " + block_list(net) + ")");
}

std::vector<PruneRow> pruning_curve(NetworkImpl& net, const Split& split, const Preprocess& preprocess,
                                    const PruneOptions& o, const std::function<void(const PruneRow&)>& on_row) {
  check_prune_options(net, o);
  const auto all = net.blocks();
  std::vector<std::shared_ptr<ResidualBlockImpl>> blocks;
  size_t first = all.size();
  for (const auto& name : o.blocks) {
    size_t i = 0;
    while (all[i].first != name) ++i;
    blocks.push_back(all[i].second);
    first = std::min(first, i);
  }

  net.eval();
  const auto scores = o.order == "random" ? std::vector<torch::Tensor>{} :
                      channel_scores(net, blocks, o.blocks, split, preprocess, o);
  const bool descending = o.order.size() > 5 && o.order.compare(o.order.size() - 5, 5, "-desc") == 0;

  // The inputs of the first pruned block, computed once for all ratios when they fit.
  const BatchMaker make_batch(preprocess, false);
  const int64_t total = o.limit > 0 ? std::min(o.limit, split.size()) : split.size();
  const int64_t begin = o.shard.begin(total), end = o.shard.end(total);
  torch::NoGradGuard no_grad;
  // (Labels kept beside them: a streamed split may leave unreadable files out.)
  std::vector<torch::Tensor> cached, cached_labels;
  {
    const auto probe = net.forward_until(first, make_batch(split_rows(split, 0, 1).images).to(o.device));
    if (probe.numel() * probe.element_size() * (end - begin) <= o.cache_bytes)
      for_each_batch(split, begin, end, o.batch, [&](const Rows& rows) {
        if (rows.labels.size(0) == 0) return true;
        cached.push_back(net.forward_until(first, make_batch(rows.images).to(o.device)));
        cached_labels.push_back(rows.labels);
        return true;
      });
  }
  // Each pruned block multiplies its output by a channel mask held on the device; a ratio
  // rewrites the masks in place, so one captured graph serves every ratio.
  std::vector<torch::Tensor> masks;
  for (auto& b : blocks)
    masks.push_back(torch::ones({1, b->out_channels(), 1, 1}, torch::TensorOptions().device(o.device)));
  auto zeros = [&] { return torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(o.device)); };
  auto loss_sum = zeros(), hits1 = zeros(), hits5 = zeros();
  const auto score = [&](const torch::Tensor& input, const torch::Tensor& labels) {
    accumulate_hits(net.forward_from(first, input), labels, loss_sum, hits1, hits5);
    return std::vector<torch::Tensor>{};
  };
  std::unique_ptr<GraphedFunction> graph;
  if (o.cuda_graph)
    graph = GraphedFunction::create(
        o.device, [&](const std::vector<torch::Tensor>& in) { return score(in[0], in[1]); }, /*warmup=*/1);
  auto measure = [&]() {
    loss_sum.zero_(), hits1.zero_(), hits5.zero_();
    auto pass = [&](const torch::Tensor& input, const torch::Tensor& labels) {
      if (labels.size(0) == 0) return;
      const auto y = labels.to(o.device);
      if (!graph || input.size(0) != o.batch || !graph->run({input, y})) score(input, y);
    };
    int64_t seen = 0;
    if (cached.empty()) {
      seen = for_each_batch(split, begin, end, o.batch, [&](const Rows& rows) {
        if (cancelled(o.control)) return false;
        if (rows.labels.size(0) > 0) pass(net.forward_until(first, make_batch(rows.images).to(o.device)), rows.labels);
        return true;
      });
    } else {
      for (size_t k = 0; k < cached.size() && !cancelled(o.control); ++k) {
        pass(cached[k], cached_labels[k]);
        seen += cached_labels[k].size(0);
      }
    }
    // One sum over the processes: every image counted once (a cancelled process still takes part).
    auto sums = torch::stack({hits1.cpu(), hits5.cpu(), torch::scalar_tensor(double(seen), torch::kFloat64)});
    o.shard.reduce(sums);
    const double n = std::max(1.0, sums[2].item<double>());
    return std::make_pair(1.0 - sums[0].item<double>() / n, 1.0 - sums[1].item<double>() / n);
  };

  std::vector<PruneRow> rows;
  const int repeats = o.order == "random" ? std::max(1, o.repeats) : 1;
  try {
    for (size_t b = 0; b < blocks.size(); ++b)
      blocks[b]->set_output_hook([m = masks[b]](const torch::Tensor& y) { return y * m; });
    for (double ratio : o.ratios) {
      for (int rep = 0; rep < repeats; ++rep) {
        if (cancelled(o.control)) break;
        for (size_t b = 0; b < blocks.size(); ++b) {
          const int64_t c = blocks[b]->out_channels();
          const int64_t k = std::llround(ratio * c);
          torch::Tensor ranked;
          if (o.order == "random") {
            auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed * 1000003ull + rep * 7919ull + b);
            ranked = torch::randperm(c, gen, torch::kInt64);
          } else {
            // Stable order: equal scores keep channel order.
            ranked = std::get<1>(scores[b].sort(/*stable=*/true, 0, descending));
          }
          auto mask = torch::ones({c}, torch::kFloat32);
          if (k > 0) mask.index_fill_(0, ranked.slice(0, 0, k), 0.0f);
          masks[b].copy_(mask.view({1, c, 1, 1}));
        }
        const auto [top1, top5] = measure();
        if (cancelled(o.control)) break;  // a pass cut short is no point of the curve
        PruneRow row{o.label, o.order, ratio, rep, top1, top5};
        rows.push_back(row);
        if (on_row) on_row(row);
      }
    }
  } catch (...) {
    for (auto& b : blocks) b->set_output_hook(nullptr);
    throw;
  }
  for (auto& b : blocks) b->set_output_hook(nullptr);
  say_graph_outcome(graph.get(), "pruning's forward passes", o.on_message);
  return rows;
}

void write_pruning_csv(const std::string& path, const std::vector<PruneRow>& rows) {
  std::string text = std::string(kPruningHeader) + "\n";
  char line[256];
  for (const auto& r : rows) {
    std::snprintf(line, sizeof line, "%s,%s,%.6g,%d,%.9g,%.9g\n", r.layer.c_str(), r.order.c_str(), r.ratio, r.repeat,
                  r.top1_error, r.top5_error);
    text += line;
  }
  write_file_atomically(path, {text});
}

std::vector<PruneRow> read_pruning_csv(const std::string& path) {
  std::vector<PruneRow> rows;
  for (const CsvRow& row : read_csv(path, kPruningHeader)) {
    PruneRow r{row.fields[0], row.fields[1], csv_number(row, 2), csv_int(row, 3), csv_number(row, 4), csv_number(row, 5)};
    if (r.layer.empty() || !is_prune_order(r.order)) throw InputError(row.where, "has no layer or an unknown order '" + r.order + "'");
    if (!(r.ratio >= 0 && r.ratio <= 1) || !(r.top1_error >= 0 && r.top1_error <= 1))
      throw InputError(row.where, "has a ratio or an error outside [0, 1]");
    rows.push_back(std::move(r));
  }
  return rows;
}

std::string pruning_file(const std::string& block, const std::string& order, int64_t limit) {
  return "pruning-" + block + "-" + order + "-test-" + std::to_string(limit) + ".csv";
}

std::vector<std::string> blocks_named(NetworkImpl& net, const std::string& name) {
  std::vector<std::string> blocks;
  for (const auto& [path, block] : net.blocks())
    if (path == name || path.rfind(name + ".", 0) == 0) blocks.push_back(path);
  return blocks;
}

std::string block_list(NetworkImpl& net) {
  std::string list;
  for (const auto& [path, block] : net.blocks()) list += (list.empty() ? "" : ", ") + path;
  return list;
}

}  // namespace gex
