#include "train/evaluate.h"

#include "errors.h"

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
  const bool was_training = net.is_training();
  net.eval();
  torch::NoGradGuard no_grad;
  auto zeros = [&] { return torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(options.device)); };
  auto loss_sum = zeros(), top1 = zeros(), top5 = zeros();
  for (int64_t begin = 0; begin < total; begin += options.batch) {
    if (cancelled(options.control)) break;
    const int64_t end = std::min(total, begin + options.batch);
    auto x = make_batch(split.images.slice(0, begin, end)).to(options.device, /*non_blocking=*/true);
    auto y = split.labels.slice(0, begin, end).to(options.device, /*non_blocking=*/true);
    accumulate_hits(net.forward(x), y, loss_sum, top1, top5);
    result.images = end;
    if (options.progress) options.progress(end, total);
  }
  net.train(was_training);
  if (result.images > 0) {
    const double n = double(result.images);
    result.loss = loss_sum.item<double>() / n;
    result.top1_error = 1.0 - top1.item<double>() / n;
    result.top5_error = 1.0 - top5.item<double>() / n;
  }
  return result;
}

}  // namespace gex
