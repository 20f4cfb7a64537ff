#include "models/block_tail.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

#include "models/cell_map.h"
#include "models/tail_context.h"
#include "models/tail_kernels.h"
#include "models/vector_clones.h"
#if GEX_WITH_CUDA_KERNELS
#include "models/block_tail_device.h"
#include "models/tail_launch.h"
#endif

namespace gex {

namespace {

// The loops see one image of a channels-last map as P×C (P = H·W): every inner loop is a
// contiguous run over channels. Per-channel values (k, μ, invstd, q, α) are length C; per-image
// ones (a, b, u, v, r, ds) point at the image's rows of an N×K×C table, K the gate's cells
// (tail_kernels.h: one for a whole-map gate). `cell` (null: one cell) gives position p's cell.

using tail::Cells;

// Forward, pass 1: shifted sums s1 += c − k, s2 += (c − k)², and with a gather kernel
// sw += w ⊙ (c − k). The shift, a value of the channel, keeps float sums exact where the mean is
// large against the spread (as after a ReLU).
template <typename T, int CC>
GEX_VECTOR_CLONES void image_sums(T* __restrict s1, T* __restrict s2, T* __restrict sw, const T* __restrict c,
                                  const T* __restrict k, const T* __restrict w, int64_t P, int64_t runtime_c) {
  const int64_t C = CC ? CC : runtime_c;
  for (int64_t p = 0; p < P; ++p, c += C) {
    for (int64_t j = 0; j < C; ++j) {
      const T d = c[j] - k[j];
      s1[j] += d;
      s2[j] += d * d;
    }
    if (w) {
      const T* wp = w + p * C;
      for (int64_t j = 0; j < C; ++j) sw[j] += wp[j] * (c[j] - k[j]);
    }
  }
}

// Forward, pass 2: out = relu((c − μ)·a + b + sc) — BN, the gate and the shortcut at once
// (centred first, as BN is, so a large mean costs no precision).
template <typename T, int CC>
GEX_VECTOR_CLONES void image_output(T* __restrict out, const T* __restrict c, const T* __restrict mu,
                                    const T* __restrict a_cells, const T* __restrict b_cells, const T* __restrict sc,
                                    const int32_t* __restrict cell, int64_t P, int64_t runtime_c) {
  const int64_t C = CC ? CC : runtime_c;
  for (int64_t p = 0; p < P; ++p, out += C, c += C) {
    const T* __restrict a = cell ? a_cells + cell[p] * C : a_cells;
    const T* __restrict b = cell ? b_cells + cell[p] * C : b_cells;
    if (sc) {
      for (int64_t j = 0; j < C; ++j) out[j] = std::max((c[j] - mu[j]) * a[j] + b[j] + sc[j], T(0));
      sc += C;
    } else {
      for (int64_t j = 0; j < C; ++j) out[j] = std::max((c[j] - mu[j]) * a[j] + b[j], T(0));
    }
  }
}

// Backward, pass 1: dz = dout where out > 0, else 0 (the gradient at x ⊙ g + sc); sa += dz and
// sb += dz·x̂ with x̂ = (c − μ)·invstd, per cell, the sums BN's backward and the gate's dg are
// made of.
template <typename T, int CC>
GEX_VECTOR_CLONES void image_relu_grad(T* __restrict dz, T* __restrict sa_cells, T* __restrict sb_cells,
                                       const T* __restrict dout, const T* __restrict out, const T* __restrict c,
                                       const T* __restrict mu, const T* __restrict invstd,
                                       const int32_t* __restrict cell, int64_t P, int64_t runtime_c) {
  const int64_t C = CC ? CC : runtime_c;
  for (int64_t p = 0; p < P; ++p, dz += C, dout += C, out += C, c += C) {
    T* __restrict sa = cell ? sa_cells + cell[p] * C : sa_cells;
    T* __restrict sb = cell ? sb_cells + cell[p] * C : sb_cells;
    for (int64_t j = 0; j < C; ++j) {
      const T d = out[j] > T(0) ? dout[j] : T(0);
      dz[j] = d;
      sa[j] += d;
      sb[j] += d * ((c[j] - mu[j]) * invstd[j]);
    }
  }
}

// Backward, pass 2: dc = dz·u + (c − μ)·q + r (+ v ⊙ w with a gather kernel; + Σ v over the
// cells whose windows hold the position with a local gate, `holding`: four cells per position,
// −1 past the last); with dw, also dw += ds·x where x = (c − μ)·α + β is the BN output.
template <typename T, int CC>
GEX_VECTOR_CLONES void image_input_grad(T* __restrict dc, T* __restrict dw, const T* __restrict dz,
                                        const T* __restrict c, const T* __restrict mu, const T* __restrict u_cells,
                                        const T* __restrict q, const T* __restrict r, const T* __restrict v,
                                        const T* __restrict w, const T* __restrict ds, const T* __restrict alpha,
                                        const T* __restrict beta, const int32_t* __restrict cell,
                                        const int32_t* __restrict holding, int64_t P, int64_t runtime_c) {
  const int64_t C = CC ? CC : runtime_c;
  for (int64_t p = 0; p < P; ++p, dc += C, dz += C, c += C) {
    const T* __restrict u = cell ? u_cells + cell[p] * C : u_cells;
    if (w) {
      const T* wp = w + p * C;
      for (int64_t j = 0; j < C; ++j) dc[j] = dz[j] * u[j] + (c[j] - mu[j]) * q[j] + r[j] + v[j] * wp[j];
    } else {
      for (int64_t j = 0; j < C; ++j) dc[j] = dz[j] * u[j] + (c[j] - mu[j]) * q[j] + r[j];
    }
    for (int64_t k = 0; holding && k < 4 && holding[4 * p + k] >= 0; ++k) {
      const T* __restrict vk = v + holding[4 * p + k] * C;
      for (int64_t j = 0; j < C; ++j) dc[j] += vk[j];
    }
    if (dw) {
      T* dwp = dw + p * C;
      for (int64_t j = 0; j < C; ++j) dwp[j] += ds[j] * ((c[j] - mu[j]) * alpha[j] + beta[j]);
    }
  }
}

// A local gather, one row of a window: acc += c − μ over `count` positions.
template <typename T, int CC>
GEX_VECTOR_CLONES void add_centred(T* __restrict acc, const T* __restrict c, const T* __restrict mu, int64_t count,
                                   int64_t runtime_c) {
  const int64_t C = CC ? CC : runtime_c;
  for (int64_t p = 0; p < count; ++p, c += C)
    for (int64_t j = 0; j < C; ++j) acc[j] += c[j] - mu[j];
}

// The cell of every position (P), and the cells whose windows hold it (4 per position, −1 past
// the last); empty for a whole-map gate.
struct CellTables {
  std::vector<int32_t> cell, holding;
  explicit CellTables(const Cells& cells) {
    if (!cells.e) return;
    const int64_t P = cells.H * cells.W;
    cell.resize(P);
    holding.assign(4 * P, -1);
    for (int64_t p = 0; p < P; ++p) {
      cell[p] = int32_t(cells.of(p));
      int64_t ylo, yhi, xlo, xhi, k = 0;
      cells.holding(p / cells.W, cells.rows(), &ylo, &yhi);
      cells.holding(p % cells.W, cells.cols(), &xlo, &xhi);
      for (int64_t y = ylo; y < yhi; ++y)
        for (int64_t x = xlo; x < xhi; ++x) holding[4 * p + k++] = int32_t(y * cells.cols() + x);
    }
  }
  const int32_t* cells_or_null() const { return cell.empty() ? nullptr : cell.data(); }
  const int32_t* holding_or_null() const { return holding.empty() ? nullptr : holding.data(); }
};

// The channel count as a compile-time constant for ResNet's widths, so the per-channel rows and
// accumulators stay in registers; 0: any other width, known at run time.
template <typename F>
void with_channels(int64_t C, F&& f) {
  switch (C) {
    case 16: return f(std::integral_constant<int, 16>{});
    case 32: return f(std::integral_constant<int, 32>{});
    case 64: return f(std::integral_constant<int, 64>{});
    default: return f(std::integral_constant<int, 0>{});
  }
}

torch::Tensor channels_last(const torch::Tensor& t) { return t.contiguous(torch::MemoryFormat::ChannelsLast); }

double sigmoid(double v) { return 1.0 / (1.0 + std::exp(-v)); }

// What the backward needs, laid out as the GPU node's (tail_kernels.h's State): per channel in
// double, per image and cell in T; with the tensors that hold it.
template <typename T>
struct TailState : tail::State<T> {
  torch::Tensor channel_data, cell_data;
  TailState(int64_t n, int64_t c, bool gated, int64_t k)
      : TailState(n, c, k, torch::empty({tail::State<T>::channel_size(c)}, torch::kFloat64),
                  gated ? torch::empty({tail::State<T>::cell_size(n, c, k)}, c10::CppTypeToScalarType<T>::value)
                        : torch::Tensor()) {}
  TailState(int64_t n, int64_t c, int64_t k, torch::Tensor channels, torch::Tensor cells)
      : tail::State<T>{channels.data_ptr<double>(), cells.defined() ? cells.data_ptr<T>() : nullptr, n, c, k},
        channel_data(std::move(channels)),
        cell_data(std::move(cells)) {}
};

template <typename T>
std::vector<T> narrow(const double* v, int64_t n) {
  return std::vector<T>(v, v + n);
}

template <typename T>
torch::Tensor tensor_of(const std::vector<double>& v, torch::ScalarType type) {
  auto t = torch::empty({int64_t(v.size())}, torch::dtype(type));
  std::copy(v.begin(), v.end(), t.data_ptr<T>());
  return t;
}

template <typename T>
struct Tail {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& c,
                               const torch::Tensor& gamma, const torch::Tensor& beta, const torch::Tensor& weight,
                               const torch::Tensor& shortcut, BatchNorm2dImpl* bn,
                               const FusedGate* gate) {
    const int64_t N = c.size(0), C = c.size(1), P = c.size(2) * c.size(3), M = N * P;
    const bool weighted = weight.numel() > 0;
    const Cells cells{c.size(2), c.size(3), gate ? gate->extent : 0};
    const int64_t K = cells.count();
    const CellTables tables(cells);
    const auto w_pc = weighted ? weight.detach().reshape({C, P}).t().contiguous() : torch::Tensor();
    const T* cd = c.data_ptr<T>();
    const T* wd = weighted ? w_pc.data_ptr<T>() : nullptr;
    const std::vector<T> k(cd, cd + C);  // the first pixel of the first image: the shift
    std::vector<T> s1(N * C, T(0)), s2(N * C, T(0)), sw(weighted ? N * C : 0, T(0));
    with_channels(C, [&](auto cc) {
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        for (int64_t n = begin; n < end; ++n)
          image_sums<T, decltype(cc)::value>(&s1[n * C], &s2[n * C], weighted ? &sw[n * C] : nullptr,
                                             cd + n * P * C, k.data(), wd, P, C);
      });
    });

    // Batch statistics, and the running ones exactly as BatchNorm2d keeps them.
    TailState<T> st(N, C, gate != nullptr, K);
    const T* gd = gamma.data_ptr<T>();
    const T* bd = beta.data_ptr<T>();
    std::vector<double> shift(C);
    const double m = *bn->options.momentum();
    T* rm = bn->running_mean.data_ptr<T>();
    T* rv = bn->running_var.data_ptr<T>();
    for (int64_t j = 0; j < C; ++j) {
      double m1 = 0, m2 = 0;
      for (int64_t n = 0; n < N; ++n) m1 += s1[n * C + j], m2 += s2[n * C + j];
      shift[j] = m1 / double(M);
      const double var = std::max(0.0, m2 / double(M) - shift[j] * shift[j]);
      st.mu()[j] = double(k[j]) + shift[j];
      st.invstd()[j] = 1.0 / std::sqrt(var + bn->options.eps());
      st.gamma()[j] = gd[j];
      st.beta()[j] = bd[j];
      st.wsum()[j] = 1.0;
      rm[j] = T((1 - m) * rm[j] + m * st.mu()[j]);
      rv[j] = T((1 - m) * rv[j] + m * var * double(M) / double(M - 1));
    }
    {
      torch::NoGradGuard no_grad;
      bn->num_batches_tracked += 1;
    }

    torch::Tensor s_leaf, logits;
    std::vector<double> g_exact;  // a whole-map gate's g before rounding to T, for the output
    if (gate && cells.e) {
      local_gather(st, cells, cd);
    } else if (gate) {
      // The gather of x = bn(c) from c's sums: Σ_p w·x = γ·Σ_p w·x̂ + β·Σ_p w, with
      // Σ_p w·x̂ = invstd·(Σ_p w·(c − k) − (μ − k)·Σ_p w); the average is w = 1/P.
      if (weighted) {
        for (int64_t j = 0; j < C; ++j) st.wsum()[j] = 0;
        for (int64_t p = 0; p < P; ++p)
          for (int64_t j = 0; j < C; ++j) st.wsum()[j] += wd[p * C + j];
      }
      auto s = torch::empty({N, C, 1, 1}, c.options().memory_format(torch::MemoryFormat::Contiguous));
      T* sd = s.data_ptr<T>();
      for (int64_t n = 0; n < N; ++n)
        for (int64_t j = 0; j < C; ++j) {
          const int64_t i = n * C + j;
          const double wc = weighted ? double(sw[i]) : double(s1[i]) / double(P);
          const double xw = st.invstd()[j] * (wc - shift[j] * st.wsum()[j]);
          st.xw()[i] = T(xw);
          sd[i] = T(st.gamma()[j] * xw + st.beta()[j] * st.wsum()[j]);
        }
      if (gate->excite) {
        s_leaf = s.requires_grad_(true);
        torch::AutoGradMode grad(true);
        logits = gate->excite(s_leaf);
        const auto l = logits.detach().reshape({N * C}).to(torch::kFloat64).contiguous();
        const double* ld = l.data_ptr<double>();
        for (int64_t i = 0; i < N * C; ++i) g_exact.push_back(sigmoid(ld[i]));
      } else {
        for (int64_t i = 0; i < N * C; ++i) g_exact.push_back(sigmoid(double(sd[i])));
      }
      std::copy(g_exact.begin(), g_exact.end(), st.g());
    }

    // out = relu((c − μ)·a + b + sc): a = α·g, b = β·g (α = γ·invstd), per image and cell.
    std::vector<T> a(N * K * C), b(N * K * C);
    std::vector<double> alpha(C);
    for (int64_t j = 0; j < C; ++j) alpha[j] = st.gamma()[j] * st.invstd()[j];
    at::parallel_for(0, N * K, 1, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        T *ar = &a[row * C], *br = &b[row * C];
        const double* beta = st.beta();
        if (!gate) {
          for (int64_t j = 0; j < C; ++j) ar[j] = T(alpha[j]), br[j] = T(beta[j]);
        } else if (!g_exact.empty()) {
          const double* g = &g_exact[row * C];
          for (int64_t j = 0; j < C; ++j) ar[j] = T(alpha[j] * g[j]), br[j] = T(beta[j] * g[j]);
        } else {
          const T* g = st.g() + row * C;
          for (int64_t j = 0; j < C; ++j) ar[j] = T(alpha[j] * double(g[j])), br[j] = T(beta[j] * double(g[j]));
        }
      }
    });
    const auto mu_t = narrow<T>(st.mu(), C);
    const auto sc = shortcut.numel() ? channels_last(shortcut) : torch::Tensor();
    const T* scd = sc.defined() ? sc.data_ptr<T>() : nullptr;
    auto out = torch::empty_like(c, torch::MemoryFormat::ChannelsLast);
    T* od = out.data_ptr<T>();
    with_channels(C, [&](auto cc) {
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        for (int64_t n = begin; n < end; ++n)
          image_output<T, decltype(cc)::value>(od + n * P * C, cd + n * P * C, mu_t.data(), &a[n * K * C],
                                               &b[n * K * C], scd ? scd + n * P * C : nullptr,
                                               tables.cells_or_null(), P, C);
      });
    });

    save_tail_context(ctx, c, out, st.channel_data, sc.defined(), weighted && weight.requires_grad(), w_pc, s_leaf, logits);
    ctx->saved_data["extent"] = cells.e;
    if (gate) ctx->saved_data["cells"] = st.cell_data;
    return out;
  }

  // A local gate (GE-θ⁻ at extent e): its logits σ⁻¹(g) = γ·xw + β, xw the window average of x̂,
  // per image, cell and channel, from the centred map: BN's affine map commutes with the average.
  static void local_gather(const TailState<T>& st, const Cells& cells, const T* cd) {
    const int64_t N = st.N, C = st.C, K = st.K, W = cells.W, P = cells.H * W;
    const auto mu = narrow<T>(st.mu(), C);
    with_channels(C, [&](auto cc) {
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        std::vector<T> acc(C);
        for (int64_t n = begin; n < end; ++n)
          for (int64_t k = 0; k < K; ++k) {
            const tail::Span s = cells.window_of(k);
            std::fill(acc.begin(), acc.end(), T(0));
            for (int64_t h = s.h0; h < s.h1; ++h)
              add_centred<T, decltype(cc)::value>(acc.data(), cd + (n * P + h * W + s.w0) * C, mu.data(), s.w1 - s.w0, C);
            const double inverse_count = 1.0 / double(s.size());
            T *xw = st.xw() + (n * K + k) * C, *logit = st.g() + (n * K + k) * C;
            const double *invstd = st.invstd(), *gamma = st.gamma(), *beta = st.beta();
            for (int64_t j = 0; j < C; ++j) {
              const double x = invstd[j] * double(acc[j]) * inverse_count;
              xw[j] = T(x);
              logit[j] = T(gamma[j] * x + beta[j]);
            }
          }
      });
    });
    st.cell_data.narrow(0, 0, N * K * C).sigmoid_();  // ATen's vectorised sigmoid, in place
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &c = saved[0], &out = saved[1];
    const int64_t N = c.size(0), C = c.size(1), P = c.size(2) * c.size(3), M = N * P;
    const auto w_pc = saved_gather_weight(ctx);
    const T* wd = w_pc.defined() ? w_pc.data_ptr<T>() : nullptr;
    const bool gated = ctx->saved_data.count("cells") > 0;
    const Cells cells{c.size(2), c.size(3), ctx->saved_data["extent"].toInt()};
    const int64_t K = cells.count();
    const CellTables tables(cells);
    const TailState<T> st(N, C, K, ctx->saved_data["state"].toTensor(),
                          gated ? ctx->saved_data["cells"].toTensor() : torch::Tensor());
    const auto dout = channels_last(grads[0]);
    const T* cd = c.data_ptr<T>();
    const T* doutd = dout.data_ptr<T>();
    const T* od = out.data_ptr<T>();

    auto dz = torch::empty_like(c, torch::MemoryFormat::ChannelsLast);
    T* dzd = dz.data_ptr<T>();
    std::vector<T> sa(N * K * C, T(0)), sb(N * K * C, T(0));
    const auto mu_t = narrow<T>(st.mu(), C), invstd_t = narrow<T>(st.invstd(), C);
    with_channels(C, [&](auto cc) {
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        for (int64_t n = begin; n < end; ++n) {
          const int64_t off = n * P * C;
          image_relu_grad<T, decltype(cc)::value>(dzd + off, &sa[n * K * C], &sb[n * K * C], doutd + off,
                                                  od + off, cd + off, mu_t.data(), invstd_t.data(),
                                                  tables.cells_or_null(), P, C);
        }
      });
    });

    // dx = dz·g + ds ⊗ w is the gradient at x = bn(c) (a local gate: dz·g of the position's cell
    // + the average pool's backward of ds); D1 = Σ dx and D2 = Σ dx·x̂ over N, H, W are BN's dβ
    // and dγ. sa = Σ dz, sb = Σ dz·x̂ per image and cell, over the positions that take the cell.
    // Per image in parallel: a local gate has as many cells as a quarter of the map (e = 2).
    std::vector<double> ds(gated ? N * K * C : 0);
    if (gated) {
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        for (int64_t row = begin * K; row < end * K; ++row) {
          const T *g = st.g() + row * C, *a = &sa[row * C], *b = &sb[row * C];
          const double *gamma = st.gamma(), *beta = st.beta();
          double* d = &ds[row * C];
          for (int64_t j = 0; j < C; ++j)  // Σ dz·x, through the sigmoid
            d[j] = (gamma[j] * double(b[j]) + beta[j] * double(a[j])) * double(g[j]) * (1 - double(g[j]));
        }
      });
      if (has_excite(ctx)) {
        auto grad = torch::empty({N, C, 1, 1}, c.options().memory_format(torch::MemoryFormat::Contiguous));
        std::copy(ds.begin(), ds.end(), grad.data_ptr<T>());
        const auto back = back_through_excite(ctx, grad).reshape({N * C}).to(torch::kFloat64).contiguous();
        std::copy(back.data_ptr<double>(), back.data_ptr<double>() + N * C, ds.begin());
      }
    }

    // dc = α·(dx − D1/M − x̂·D2/M) = dz·u + (c − μ)·q + r (+ v ⊙ w), α = γ·invstd; u per cell, r
    // per image (the whole-map average's w = 1/P is a constant, in r); a local gate's
    // v = α·ds / (its window's size) goes to every position of the window. D1 and D2 are summed
    // per image first, then over the images in order.
    const bool local = gated && cells.e;
    std::vector<double> D1n(N * C, 0.0), D2n(N * C, 0.0), alpha(C);
    for (int64_t j = 0; j < C; ++j) alpha[j] = st.gamma()[j] * st.invstd()[j];
    const auto alpha_t = narrow<T>(alpha.data(), C);
    std::vector<T> u(N * K * C), r(N * C), v(wd ? N * C : local ? N * K * C : 0);
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        double *d1 = &D1n[n * C], *d2 = &D2n[n * C];
        for (int64_t row = n * K; row < (n + 1) * K; ++row) {
          const T *a = &sa[row * C], *b = &sb[row * C];
          T* ur = &u[row * C];
          if (!gated) {
            for (int64_t j = 0; j < C; ++j) d1[j] += double(a[j]), d2[j] += double(b[j]), ur[j] = alpha_t[j];
            continue;
          }
          const T *g = st.g() + row * C, *xw = st.xw() + row * C;
          const double *wsum = st.wsum(), *d = &ds[row * C];
          for (int64_t j = 0; j < C; ++j) {
            d1[j] += double(g[j]) * double(a[j]) + d[j] * wsum[j];
            d2[j] += double(g[j]) * double(b[j]) + d[j] * double(xw[j]);
            ur[j] = T(alpha[j] * double(g[j]));
          }
          if (local) {
            const double inverse_count = 1.0 / double(cells.window_size(row % K));
            for (int64_t j = 0; j < C; ++j) v[row * C + j] = T(alpha[j] * d[j] * inverse_count);
          } else if (wd) {
            for (int64_t j = 0; j < C; ++j) v[row * C + j] = T(alpha[j] * d[j]);
          }
        }
      }
    });
    std::vector<double> D1(C, 0.0), D2(C, 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < C; ++j) D1[j] += D1n[n * C + j], D2[j] += D2n[n * C + j];
    std::vector<T> q(C);
    for (int64_t j = 0; j < C; ++j) {
      q[j] = T(-alpha[j] * st.invstd()[j] * D2[j] / double(M));
      for (int64_t n = 0; n < N; ++n)
        r[n * C + j] = T(-alpha[j] * D1[j] / double(M) +
                         (gated && !wd && !local ? alpha[j] * double(ds[n * C + j]) / double(P) : 0.0));
    }
    const bool weight_grad = ctx->saved_data["weight_grad"].toBool();
    const std::vector<T> ds_t(weight_grad ? ds.begin() : ds.end(), ds.end()), beta_t = narrow<T>(st.beta(), C);
    auto dc = torch::empty_like(c, torch::MemoryFormat::ChannelsLast);
    T* dcd = dc.data_ptr<T>();
    // Each chunk of images sums its dw apart; the chunks are added in order, so the result does
    // not depend on which thread finished first.
    std::map<int64_t, std::vector<T>> dw_parts;
    std::mutex dw_mutex;
    with_channels(C, [&](auto cc) {
      at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
        std::vector<T> local_dw(weight_grad ? P * C : 0, T(0));
        for (int64_t n = begin; n < end; ++n) {
          const int64_t off = n * P * C;
          image_input_grad<T, decltype(cc)::value>(
              dcd + off, weight_grad ? local_dw.data() : nullptr, dzd + off, cd + off, mu_t.data(), &u[n * K * C],
              q.data(), &r[n * C], v.empty() ? nullptr : &v[n * K * C], wd,
              weight_grad ? &ds_t[n * C] : nullptr, alpha_t.data(), beta_t.data(), tables.cells_or_null(),
              local ? tables.holding_or_null() : nullptr, P, C);
        }
        if (weight_grad) {
          std::lock_guard<std::mutex> lock(dw_mutex);
          dw_parts.emplace(begin, std::move(local_dw));
        }
      });
    });
    torch::Tensor dweight;
    if (weight_grad) {
      auto dw = torch::zeros({P, C}, c.options().memory_format(torch::MemoryFormat::Contiguous));
      T* o = dw.data_ptr<T>();
      for (const auto& [begin, part] : dw_parts)
        for (int64_t i = 0; i < P * C; ++i) o[i] += part[i];
      dweight = dw.t().reshape({C, 1, c.size(2), c.size(3)});
    }

    const auto type = c.scalar_type();
    return {dc, tensor_of<T>(D2, type), tensor_of<T>(D1, type), dweight,
            ctx->saved_data["shortcut"].toBool() ? dz : torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class BnTail : public torch::autograd::Function<BnTail> {
 public:
  // `weight`/`shortcut` empty: none. The per-channel and per-cell algebra runs in double; the
  // passes over the maps, and the per-cell values kept for the backward, in the maps' dtype.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& c,
                               const torch::Tensor& gamma, const torch::Tensor& beta, const torch::Tensor& weight,
                               const torch::Tensor& shortcut, BatchNorm2dImpl* bn,
                               const FusedGate* gate) {
    return c.scalar_type() == torch::kFloat64 ? Tail<double>::forward(ctx, c, gamma, beta, weight, shortcut, bn, gate)
                                              : Tail<float>::forward(ctx, c, gamma, beta, weight, shortcut, bn, gate);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    return ctx->get_saved_variables()[0].scalar_type() == torch::kFloat64 ? Tail<double>::backward(ctx, grads)
                                                                           : Tail<float>::backward(ctx, grads);
  }
};

bool same_map(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() && a.device() == b.device();
}

// The node on a GPU (block_tail_device.h) where the build has its kernels: maps of float, bf16
// (autocast) or half, the parameters in float.
torch::Tensor cuda_bn_tail(const torch::Tensor& c, BatchNorm2dImpl& bn, const FusedGate* gate,
                           const torch::Tensor& shortcut) {
#if GEX_WITH_CUDA_KERNELS
  const auto type = c.scalar_type();
  if (type != torch::kFloat32 && type != torch::kBFloat16 && type != torch::kHalf) return {};
  for (const auto* p : {&bn.weight, &bn.bias, &bn.running_mean, &bn.running_var})
    if (p->scalar_type() != torch::kFloat32 || p->device() != c.device()) return {};
  if (gate && gate->weight.defined() && gate->weight.scalar_type() != torch::kFloat32) return {};
  const auto none = torch::empty({0}, c.options());
  const auto weight = gate && gate->weight.defined() ? gate->weight : none;
  const auto sc = shortcut.defined() ? shortcut : none;
  count_fused_node(true, gate != nullptr, gate && gate->extent);
  using tail::CudaLaunch;
  if (type == torch::kBFloat16)
    return DeviceTail<c10::BFloat16, float, CudaLaunch>::apply(c, bn.weight, bn.bias, weight, sc, &bn, gate);
  if (type == torch::kHalf)
    return DeviceTail<c10::Half, float, CudaLaunch>::apply(c, bn.weight, bn.bias, weight, sc, &bn, gate);
  return DeviceTail<float, float, CudaLaunch>::apply(c, bn.weight, bn.bias, weight, sc, &bn, gate);
#else
  return {};
#endif
}

}  // namespace

bool cuda_block_tail_built() {
#if GEX_WITH_CUDA_KERNELS
  return true;
#else
  return false;
#endif
}

torch::Tensor fused_bn_tail(const torch::Tensor& c, BatchNorm2dImpl& bn, const FusedGate* gate,
                            const torch::Tensor& shortcut) {
  const auto& o = bn.options;
  if (!bn.is_training() || !o.affine() || !o.track_running_stats() || !o.momentum()) return {};
  if (bn.synchronised()) return {};  // its statistics come from every process
  if (!fused_training_enabled() || !torch::GradMode::is_enabled() || !c.requires_grad()) return {};
  if (c.dim() != 4 || c.size(1) != o.num_features()) return {};
  if (!c.is_contiguous(torch::MemoryFormat::ChannelsLast) || c.size(0) * c.size(2) * c.size(3) < 2) return {};
  if (shortcut.defined() && !same_map(shortcut, c)) return {};
  if (gate && gate->weight.defined() && gate->weight.numel() != c.size(1) * c.size(2) * c.size(3)) return {};
  if (gate && gate->extent && (gate->weight.defined() || gate->excite)) return {};  // a local gate is θ⁻'s
  if (gate && gate->extent && !interpolation_takes_cells(c, gate->extent)) return {};
  if (c.is_cuda()) return cuda_bn_tail(c, bn, gate, shortcut);
  if (!c.device().is_cpu()) return {};
  if (c.scalar_type() != torch::kFloat32 && c.scalar_type() != torch::kFloat64) return {};
  if (bn.weight.scalar_type() != c.scalar_type() || bn.running_mean.scalar_type() != c.scalar_type()) return {};
  if (gate && gate->weight.defined() && gate->weight.scalar_type() != c.scalar_type()) return {};
  const auto none = torch::empty({0}, c.options());
  count_fused_node(true, gate != nullptr, gate && gate->extent);
  return BnTail::apply(c, bn.weight, bn.bias, gate && gate->weight.defined() ? gate->weight : none,
                       shortcut.defined() ? shortcut : none, &bn, gate);
}

torch::Tensor bn_relu(BatchNorm2d& bn, const torch::Tensor& c) {
  // A map that reaches here in NCHW (a stem fed a strided batch: the network restrides only
  // contiguous one-channel ones) costs one copy to channels-last, less than the generic graph.
  const bool relayout = bn->is_training() && c.device().is_cpu() && c.dim() == 4 &&
                        !c.is_contiguous(torch::MemoryFormat::ChannelsLast) && torch::GradMode::is_enabled();
  if (auto y = fused_bn_tail(relayout ? c.contiguous(torch::MemoryFormat::ChannelsLast) : c, *bn, nullptr, {});
      y.defined())
    return y;
  return bn(c).relu_();
}

}  // namespace gex
