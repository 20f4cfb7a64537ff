#include "models/batch_norm.h"

namespace gex {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// A sum over the processes that autograd can see through: the gradient of each process's share is
// the sum of the gradients of the total, over the processes.
struct AllReduceSumFunction : torch::autograd::Function<AllReduceSumFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& local, const AllReduceSum* sum) {
    ctx->saved_data["sum"] = reinterpret_cast<int64_t>(sum);
    auto total = local.clone();
    (*sum)(total);
    return total;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grad) {
    const auto* sum = reinterpret_cast<const AllReduceSum*>(ctx->saved_data["sum"].toInt());
    auto total = grad[0].contiguous().clone();
    (*sum)(total);
    return {total, torch::Tensor()};
  }
};

}  // namespace

BatchNorm2dImpl::BatchNorm2dImpl(const torch::nn::BatchNormOptions& options_) : options(options_) { reset(); }

// Registered in torch's order and under its names: the checkpoint keys are torch's.
void BatchNorm2dImpl::reset() {
  const int64_t c = options.num_features();
  if (options.affine()) {
    weight = register_parameter("weight", torch::empty({c}));
    bias = register_parameter("bias", torch::empty({c}));
  } else {
    weight = register_parameter("weight", torch::Tensor(), /*requires_grad=*/false);
    bias = register_parameter("bias", torch::Tensor(), /*requires_grad=*/false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", torch::zeros({c}));
    running_var = register_buffer("running_var", torch::ones({c}));
    num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
  } else {
    running_mean = register_buffer("running_mean", torch::Tensor());
    running_var = register_buffer("running_var", torch::Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", torch::Tensor());
  }
  reset_parameters();
}

void BatchNorm2dImpl::reset_parameters() {
  torch::NoGradGuard no_grad;
  if (options.track_running_stats()) running_mean.zero_(), running_var.fill_(1), num_batches_tracked.zero_();
  if (options.affine()) torch::nn::init::ones_(weight), torch::nn::init::zeros_(bias);
}

void BatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "gex::BatchNorm2d(" << options.num_features() << ", eps=" << options.eps()
         << ", momentum=" << options.momentum().value_or(-1) << ", affine=" << options.affine()
         << ", track_running_stats=" << options.track_running_stats() << (synchronised() ? ", synchronised" : "")
         << ")";
}

// What torch::nn::BatchNorm2d's forward does (torch/nn/modules/batchnorm.h), call for call.
torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4, "expected 4D input (got ", x.dim(), "D input)");
  if (m_all_reduce_sum && is_training()) return synchronised_forward(x);
  double factor = options.momentum().value_or(0.0);
  if (is_training() && options.track_running_stats()) {
    num_batches_tracked += 1;
    factor = options.momentum() ? *options.momentum() : 1.0 / num_batches_tracked.item<double>();
  }
  return torch::nn::functional::detail::batch_norm(x, running_mean, running_var, weight, bias,
                                                   is_training() || !options.track_running_stats(), factor,
                                                   options.eps());
}

torch::Tensor BatchNorm2dImpl::synchronised_forward(const torch::Tensor& x) {
  const int64_t c = x.size(1);
  // Per channel Σx, Σx² and the count, in double (the variance is their difference), summed over
  // the processes; a process with an empty share still takes part.
  const auto xd = x.to(torch::kFloat64);
  const auto count = torch::full({1}, double(x.numel() / std::max<int64_t>(1, c)), xd.options());
  auto local = torch::cat({xd.sum({0, 2, 3}), xd.square().sum({0, 2, 3}), count});
  const auto total = AllReduceSumFunction::apply(local, &m_all_reduce_sum);
  const auto n = total.slice(0, 2 * c, 2 * c + 1);
  const auto mean = total.slice(0, 0, c) / n;
  const auto var = (total.slice(0, c, 2 * c) / n - mean.square()).clamp_min(0);
  const double samples = total[2 * c].item<double>();
  {
    torch::NoGradGuard no_grad;
    const double m = options.momentum().value_or(0.1);
    running_mean.mul_(1 - m).add_(mean.detach().to(running_mean.scalar_type()), m);
    running_var.mul_(1 - m).add_(var.detach().to(running_var.scalar_type()) * (samples / std::max(1.0, samples - 1)),
                                 m);
    num_batches_tracked.add_(1);
  }
  const auto scale = (var + options.eps()).rsqrt().to(x.scalar_type()) * weight;
  const auto shift = bias - mean.to(x.scalar_type()) * scale;
  return x * scale.view({1, c, 1, 1}) + shift.view({1, c, 1, 1});
}

int synchronise_batch_norm(torch::nn::Module& net, const AllReduceSum& all_reduce_sum) {
  int count = 0;
  for (const auto& m : net.modules(/*include_self=*/false))
    if (auto* bn = dynamic_cast<BatchNorm2dImpl*>(m.get())) bn->synchronise(all_reduce_sum), ++count;
  return count;
}

}  // namespace gex
