#include "train/evaluate.h"

#include "data/batch_stream.h"
#include "errors.h"
#include "train/cuda_graph.h"

namespace gex {

void accumulate_hits(const torch::Tensor& logits, const torch::Tensor& labels, torch::Tensor& loss_sum,
                     torch::Tensor& top1, torch::Tensor& top5) {
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  auto top = std::get<1>(logits.topk(k, 1));
  auto hits = top.eq(labels.view({-1, 1}));
  loss_sum += torch::nn::functional::cross_entropy(
      logits.to(torch::kFloat32), labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  top1 += hits.select(1, 0).sum();
  top5 += hits.any(1).sum();
}

Evaluation evaluate(NetworkImpl& net, const Split& split, const BatchMaker& make_batch, const EvalOptions& options) {
  const int64_t total = options.limit > 0 ? std::min(options.limit, split.size()) : split.size();
  Evaluation result;
  if (total == 0) return result;
  const int64_t begin = options.shard.begin(total), end = options.shard.end(total);
  const bool was_training = net.is_training();
  net.eval();
  torch::NoGradGuard no_grad;
  auto zeros = [&] { return torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(options.device)); };
  auto loss_sum = zeros(), top1 = zeros(), top5 = zeros();
  int64_t done = 0, images = 0;
  const auto forward = [&](const torch::Tensor& x, const torch::Tensor& y) {
    accumulate_hits(net.forward(x), y, loss_sum, top1, top5);
    return std::vector<torch::Tensor>{};
  };
  std::unique_ptr<GraphedFunction> graph;
  if (options.cuda_graph)
    graph = GraphedFunction::create(
        options.device, [&](const std::vector<torch::Tensor>& in) { return forward(in[0], in[1]); }, /*warmup=*/1);
  for_each_batch(split, begin, end, options.batch, [&](const Rows& rows) {
    if (cancelled(options.control)) return false;
    if (rows.labels.size(0) > 0) {
      const auto x = make_batch(to_device(rows.images, options.device));
      const auto y = to_device(rows.labels, options.device);
      if (!graph || rows.labels.size(0) != options.batch || !graph->run({x, y})) forward(x, y);
    }
    images += rows.labels.size(0);
    done += options.batch;
    if (options.progress) options.progress(std::min(done, end - begin), end - begin);
    return true;
  });
  net.train(was_training);
  say_graph_outcome(graph.get(), "the evaluation's forward passes", options.on_message);
  // One sum over the processes (a cancelled process still takes part: it adds what it saw).
  auto sums = torch::stack({loss_sum.cpu(), top1.cpu(), top5.cpu(), torch::scalar_tensor(double(images), torch::kFloat64)});
  options.shard.reduce(sums);
  result.images = static_cast<int64_t>(sums[3].item<double>());
  if (result.images > 0) {
    const double n = double(result.images);
    result.loss = sums[0].item<double>() / n;
    result.top1_error = 1.0 - sums[1].item<double>() / n;
    result.top5_error = 1.0 - sums[2].item<double>() / n;
  }
  return result;
}

}  // namespace gex
