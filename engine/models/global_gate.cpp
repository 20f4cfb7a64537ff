#include "models/global_gate.h"

#include <ATen/Parallel.h>

#include "models/vector_clones.h"

namespace gex {

namespace {

using Excite = std::function<torch::Tensor(const torch::Tensor&)>;

// The loops below run on float maps in channels-last memory, seen as N×P×C (P = H·W), with the
// per-position weights as P×C: every inner loop is a contiguous run over channels the compiler
// vectorises. Anything else (double in the tests, other layouts) takes the same formulas as
// tensor expressions.
bool use_kernels(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat32 && x.dim() == 4 &&
         x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

// acc[c] += Σ_r a[r,c] · b[r,c] over `rows` rows of C.
GEX_VECTOR_CLONES void dot_rows(float* __restrict acc, const float* __restrict a, const float* __restrict b,
                                int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r, a += C, b += C)
    for (int64_t c = 0; c < C; ++c) acc[c] += a[c] * b[c];
}

// out[r,c] += s[c] · x[r,c].
GEX_VECTOR_CLONES void scaled_add_rows(float* __restrict out, const float* __restrict s, const float* __restrict x,
                                       int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r, out += C, x += C)
    for (int64_t c = 0; c < C; ++c) out[c] += s[c] * x[c];
}

// out[r,c] = dy[r,c] · g[c] + s[c] · w[r,c].
GEX_VECTOR_CLONES void gated_sum_rows(float* __restrict out, const float* __restrict dy, const float* __restrict g,
                                      const float* __restrict s, const float* __restrict w, int64_t rows, int64_t C) {
  for (int64_t r = 0; r < rows; ++r, out += C, dy += C, w += C)
    for (int64_t c = 0; c < C; ++c) out[c] = dy[c] * g[c] + s[c] * w[c];
}

struct Shape {
  int64_t n, c, p;
};
Shape shape_of(const torch::Tensor& x) { return {x.size(0), x.size(1), x.size(2) * x.size(3)}; }

torch::Tensor zeros_nc(const torch::Tensor& x) {
  return torch::zeros({x.size(0), x.size(1)}, x.options().memory_format(torch::MemoryFormat::Contiguous));
}

// Per image n: out[n,c] = Σ_p a[n,p,c] · b[p,c] (b_per_image: b[n,p,c]).
torch::Tensor sum_of_products(const torch::Tensor& a, const torch::Tensor& b, bool b_per_image) {
  const auto [N, C, P] = shape_of(a);
  auto out = zeros_nc(a);
  const float* ad = a.data_ptr<float>();
  const float* bd = b.data_ptr<float>();
  float* od = out.data_ptr<float>();
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) dot_rows(od + n * C, ad + n * P * C, bd + (b_per_image ? n * P * C : 0), P, C);
  });
  return out;
}

// dx[n,p,c] = dy[n,p,c] · g[n,c] + ds[n,c] · w[p,c], in one pass.
torch::Tensor input_gradient(const torch::Tensor& dy, const torch::Tensor& g, const torch::Tensor& ds,
                             const torch::Tensor& w_pc) {
  const auto [N, C, P] = shape_of(dy);
  auto dx = torch::empty_like(dy, torch::MemoryFormat::ChannelsLast);
  const float* a = dy.data_ptr<float>();
  const float* gd = g.data_ptr<float>();
  const float* sd = ds.data_ptr<float>();
  const float* wd = w_pc.data_ptr<float>();
  float* o = dx.data_ptr<float>();
  at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) gated_sum_rows(o + n * P * C, a + n * P * C, gd + n * C, sd + n * C, wd, P, C);
  });
  return dx;
}

// dw[p,c] = Σ_n ds[n,c] · x[n,p,c], split over positions.
torch::Tensor weight_gradient(const torch::Tensor& x, const torch::Tensor& ds) {
  const auto [N, C, P] = shape_of(x);
  auto dw = torch::zeros({P, C}, x.options().memory_format(torch::MemoryFormat::Contiguous));
  const float* xd = x.data_ptr<float>();
  const float* sd = ds.data_ptr<float>();
  float* o = dw.data_ptr<float>();
  at::parallel_for(0, P, 16, [&](int64_t begin, int64_t end) {
    for (int64_t n = 0; n < N; ++n) scaled_add_rows(o + begin * C, sd + n * C, xd + (n * P + begin) * C, end - begin, C);
  });
  return dw;
}

class GlobalGatherExcite : public torch::autograd::Function<GlobalGatherExcite> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& given_weight, const Excite& excite) {
    const bool kernels = use_kernels(x);
    const auto weight = given_weight.numel() ? given_weight : torch::Tensor();
    const int64_t N = x.size(0), C = x.size(1);
    torch::Tensor w_pc;  // P×C for the kernels, C×1×H×W for the expressions
    torch::Tensor s;
    if (kernels) {
      // The plain average is the weighted sum with 1/P everywhere.
      const int64_t P = x.size(2) * x.size(3);
      w_pc = weight.defined() ? weight.reshape({C, P}).t().contiguous() : torch::full({P, C}, 1.0 / P, x.options());
      s = sum_of_products(x, w_pc, false).view({N, C, 1, 1});
    } else {
      s = weight.defined() ? (x * weight.view({1, C, x.size(2), x.size(3)})).sum({2, 3}, true)
                           : x.mean({2, 3}, true);
    }
    torch::Tensor s_leaf, logits;
    if (excite) {
      s_leaf = s.detach().requires_grad_(true);
      torch::AutoGradMode grad(true);
      logits = excite(s_leaf);
    } else {
      logits = s;
    }
    const auto g = torch::sigmoid(logits.detach());
    ctx->save_for_backward({x, weight, g, w_pc});
    ctx->saved_data["kernels"] = kernels;
    if (excite) {
      ctx->saved_data["s"] = s_leaf;
      ctx->saved_data["logits"] = logits;
    }
    return x * g;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &g = saved[2], &w_pc = saved[3];
    const auto weight = saved[1].defined() && saved[1].numel() ? saved[1] : torch::Tensor();
    const bool kernels = ctx->saved_data["kernels"].toBool();
    const int64_t N = x.size(0), C = x.size(1);
    const auto dy = kernels ? grads[0].contiguous(torch::MemoryFormat::ChannelsLast) : grads[0];

    const auto dg = kernels ? sum_of_products(dy, x, true).view({N, C, 1, 1}) : (dy * x).sum({2, 3}, true);
    auto ds = dg * g * (1 - g);  // through the sigmoid
    if (ctx->saved_data.count("logits")) {
      // Back through the excite's own graph: its parameters accumulate their gradients here.
      auto s_leaf = ctx->saved_data["s"].toTensor();
      torch::autograd::backward({ctx->saved_data["logits"].toTensor()}, {ds});
      ds = s_leaf.grad();
    }

    torch::Tensor dx, dw;
    if (kernels) {
      const auto ds2 = ds.reshape({N, C}).contiguous();
      dx = input_gradient(dy, g.reshape({N, C}).contiguous(), ds2, w_pc);
      if (weight.defined() && weight.requires_grad())
        dw = weight_gradient(x, ds2).t().reshape(weight.sizes()).contiguous();
    } else if (weight.defined()) {
      const auto w = weight.view({1, C, x.size(2), x.size(3)});
      dx = torch::addcmul(ds * w, dy, g);
      if (weight.requires_grad()) dw = (ds * x).sum(0).view(weight.sizes());
    } else {
      dx = torch::addcmul(ds / double(x.size(2) * x.size(3)), dy, g);
    }
    return {dx, dw, torch::Tensor()};
  }
};

}  // namespace

namespace {
thread_local bool t_fused_training = true;
thread_local FusedNodeCounts t_counts;
}  // namespace

FusedNodeCounts fused_node_counts() { return t_counts; }
void count_fused_node(bool tail, bool gated, bool local) {
  if (tail) ++t_counts.tails;
  if (tail && gated) ++t_counts.gated_tails;
  if (tail && local) ++t_counts.local_tails;
  if (!tail && local) ++t_counts.cell_gates;
  if (!tail && !local) ++t_counts.gates;
}

bool fused_training_enabled() { return t_fused_training; }
GenericGraphGuard::GenericGraphGuard() : m_previous(t_fused_training) { t_fused_training = false; }
GenericGraphGuard::~GenericGraphGuard() { t_fused_training = m_previous; }

torch::Tensor global_gather_excite(const torch::Tensor& x, const FusedGate& gate) {
  // Every tensor input of a custom node must be defined: an empty one stands for "no weight".
  count_fused_node(false, true);
  return GlobalGatherExcite::apply(x, gate.weight.defined() ? gate.weight : torch::empty({0}, x.options()),
                                   gate.excite);
}

}  // namespace gex
