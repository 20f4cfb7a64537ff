// The fused block tail of block_tail.h, out = relu(bn(c) ⊙ g + shortcut), for a GPU: each kernel
// is written as the work of one index i, so that the same code runs as a CUDA kernel
// (tail_kernels.cu launches it over a grid) and on the CPU in a loop (the tests check it there
// against the modules' generic graph). Plain data, no Torch: nvcc compiles it alone.
//
// Maps are channels-last, seen as N×P×C (P = H·W, element (n, p, j) at (n·P + p)·C + j); gather
// weights as P×C. T is the maps' type (float, bf16, half; double on the CPU), PT the parameters'
// (BN's γ, β and running statistics, the gather weights), A the type the passes over the maps
// compute in. Per-channel and per-image algebra is in double, as on the CPU. Reductions over P go
// through partial sums of kRows positions, so every thread does a fixed, small share and the
// result does not depend on scheduling: (n, k, j) sums positions k·kRows … k·kRows + kRows − 1.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace gex::tail {

constexpr int64_t kRows = 16;

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

struct Dims {
  int64_t N, C, P;
  C10_HOST_DEVICE int64_t chunks() const { return (P + kRows - 1) / kRows; }
  C10_HOST_DEVICE int64_t images_by_channels() const { return N * C; }
  C10_HOST_DEVICE int64_t partials() const { return N * chunks() * C; }
  C10_HOST_DEVICE int64_t elements() const { return N * P * C; }
};

// Forward, pass 1 (i over N·K·C): shifted partial sums of d = c − k, d² and w ⊙ d, k = c at the
// first position of the first image (the shift keeps float sums exact where the mean is large
// against the spread, as after a ReLU).
template <typename T, typename PT>
struct PartialSums {
  using A = acc_t<T>;
  Dims d;
  const T* c;
  const PT* w;  // null: the plain average
  A *part1, *part2, *partw;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, k = (i / d.C) % d.chunks(), n = i / (d.C * d.chunks());
    const A shift = A(c[j]);
    const int64_t end = (k + 1) * kRows < d.P ? (k + 1) * kRows : d.P;
    A s1 = 0, s2 = 0, sw = 0;
    for (int64_t p = k * kRows; p < end; ++p) {
      const A x = A(c[(n * d.P + p) * d.C + j]) - shift;
      s1 += x;
      s2 += x * x;
      if (w) sw += A(w[p * d.C + j]) * x;
    }
    part1[i] = s1;
    part2[i] = s2;
    if (w) partw[i] = sw;
  }
};

// Σ_k part[n, k, j] for image n, channel j, in double.
template <typename A>
C10_HOST_DEVICE double sum_of_chunks(const A* part, const Dims& d, int64_t n, int64_t j) {
  double s = 0;
  for (int64_t k = 0; k < d.chunks(); ++k) s += double(part[(n * d.chunks() + k) * d.C + j]);
  return s;
}

// Forward, pass 2 (i over N·C): the per-image sums s1, s2 (and sw) from the partial ones.
template <typename A>
struct ImageSums {
  Dims d;
  const A *part1, *part2, *partw;
  double *s1, *s2, *sw;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t n = i / d.C, j = i % d.C;
    s1[i] = sum_of_chunks(part1, d, n, j);
    s2[i] = sum_of_chunks(part2, d, n, j);
    if (partw) sw[i] = sum_of_chunks(partw, d, n, j);
  }
};

// What the backward needs, kept in one double buffer (the layout of the CPU tail's TailState):
// μ, invstd, γ, β, Σ_p w (C each), then with a gate g and Σ_p w·x̂ (N·C each).
struct State {
  double* base;
  int64_t N, C;
  C10_HOST_DEVICE double* mu() const { return base; }
  C10_HOST_DEVICE double* invstd() const { return base + C; }
  C10_HOST_DEVICE double* gamma() const { return base + 2 * C; }
  C10_HOST_DEVICE double* beta() const { return base + 3 * C; }
  C10_HOST_DEVICE double* wsum() const { return base + 4 * C; }
  C10_HOST_DEVICE double* g() const { return base + 5 * C; }
  C10_HOST_DEVICE double* xw() const { return base + 5 * C + N * C; }
  static constexpr int64_t size(int64_t n, int64_t c, bool gated) { return 5 * c + (gated ? 2 * n * c : 0); }
};

// Forward, pass 3 (i = j over C): batch statistics; the running ones exactly as BatchNorm2d
// keeps them (momentum m, the unbiased variance).
template <typename T, typename PT>
struct ChannelStats {
  using A = acc_t<T>;
  Dims d;
  const T* c;
  const double *s1, *s2;
  const PT *gamma, *beta;
  const A* wsum_in;  // Σ_p w per channel; null: the plain average (its weights sum to 1)
  PT *running_mean, *running_var;
  double momentum, eps;
  State st;
  double* shift;  // mean − k, per channel
  A *mu_a, *invstd_a;
  C10_HOST_DEVICE void operator()(int64_t j) const {
    double m1 = 0, m2 = 0;
    for (int64_t n = 0; n < d.N; ++n) m1 += s1[n * d.C + j], m2 += s2[n * d.C + j];
    const double M = double(d.N * d.P);
    const double h = m1 / M;
    const double v = m2 / M - h * h;
    const double var = v > 0 ? v : 0.0;
    const double mu = double(A(c[j])) + h;
    shift[j] = h;
    st.mu()[j] = mu;
    st.invstd()[j] = 1.0 / ::sqrt(var + eps);
    st.gamma()[j] = double(gamma[j]);
    st.beta()[j] = double(beta[j]);
    st.wsum()[j] = wsum_in ? double(wsum_in[j]) : 1.0;
    mu_a[j] = A(mu);
    invstd_a[j] = A(st.invstd()[j]);
    running_mean[j] = PT((1 - momentum) * double(running_mean[j]) + momentum * mu);
    running_var[j] = PT((1 - momentum) * double(running_var[j]) + momentum * var * M / (M - 1));
  }
};

// Forward, pass 4 (i over N·C, with a gate): the gather of x = bn(c) from c's sums,
// Σ_p w·x = γ·Σ_p w·x̂ + β·Σ_p w with Σ_p w·x̂ = invstd·(Σ_p w·(c − k) − (μ − k)·Σ_p w); the
// average's w is 1/P. s is the excite's input.
template <typename A>
struct GatherFromSums {
  Dims d;
  const double *s1, *sw, *shift;  // sw null: the plain average
  State st;
  A* s;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C;
    const double wc = sw ? sw[i] : s1[i] / double(d.P);
    st.xw()[i] = st.invstd()[j] * (wc - shift[j] * st.wsum()[j]);
    s[i] = A(st.gamma()[j] * st.xw()[i] + st.beta()[j] * st.wsum()[j]);
  }
};

// Forward, pass 5 (i over N·C): the gate g = σ(logit) (1 without a gate) and the output's
// coefficients a = α·g, b = β·g (α = γ·invstd).
template <typename A>
struct OutputCoefficients {
  Dims d;
  const A* logits;  // null: no gate
  State st;
  A *a, *b;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C;
    double g = 1.0;
    if (logits) {
      g = 1.0 / (1.0 + ::exp(-double(logits[i])));
      st.g()[i] = g;
    }
    a[i] = A(st.gamma()[j] * st.invstd()[j] * g);
    b[i] = A(st.beta()[j] * g);
  }
};

// Forward, pass 6 (i over N·P·C): out = relu((c − μ)·a + b + sc) — BN, the gate and the shortcut
// at once.
template <typename T>
struct Output {
  using A = acc_t<T>;
  Dims d;
  const T *c, *sc;  // sc null: no shortcut
  const A *mu_a, *a, *b;
  T* out;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, nj = (i / (d.P * d.C)) * d.C + j;
    A y = (A(c[i]) - mu_a[j]) * a[nj] + b[nj];
    if (sc) y += A(sc[i]);
    out[i] = T(y > A(0) ? y : A(0));
  }
};

// Backward, pass 1 (i over N·K·C): dz = dout where out > 0, else 0 (the gradient at x ⊙ g + sc),
// and the partial sums of dz and dz·x̂, x̂ = (c − μ)·invstd.
template <typename T>
struct ReluGradPartials {
  using A = acc_t<T>;
  Dims d;
  const T *dout, *out, *c;
  const A *mu_a, *invstd_a;
  T* dz;
  A *parta, *partb;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, k = (i / d.C) % d.chunks(), n = i / (d.C * d.chunks());
    const int64_t end = (k + 1) * kRows < d.P ? (k + 1) * kRows : d.P;
    A sa = 0, sb = 0;
    for (int64_t p = k * kRows; p < end; ++p) {
      const int64_t e = (n * d.P + p) * d.C + j;
      const A g = A(out[e]) > A(0) ? A(dout[e]) : A(0);
      dz[e] = T(g);
      sa += g;
      sb += g * ((A(c[e]) - mu_a[j]) * invstd_a[j]);
    }
    parta[i] = sa;
    partb[i] = sb;
  }
};

// Backward, pass 2 (i over N·C): sa = Σ_p dz, sb = Σ_p dz·x̂; with a gate the gradient at its
// logit, ds = (Σ_p dz·x)·g(1 − g) with Σ_p dz·x = γ·sb + β·sa.
template <typename A>
struct ImageGradSums {
  Dims d;
  const A *parta, *partb;
  State st;
  bool gated;
  double *sa, *sb, *ds;
  A* ds_a;  // ds for the excite's backward; null: no excite
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t n = i / d.C, j = i % d.C;
    sa[i] = sum_of_chunks(parta, d, n, j);
    sb[i] = sum_of_chunks(partb, d, n, j);
    if (!gated) return;
    const double g = st.g()[i];
    ds[i] = (st.gamma()[j] * sb[i] + st.beta()[j] * sa[i]) * g * (1 - g);
    if (ds_a) ds_a[i] = A(ds[i]);
  }
};

// Backward, pass 3 (i = j over C): dx = dz·g + ds ⊗ w is the gradient at x = bn(c); its sums
// D1 = Σ dx and D2 = Σ dx·x̂ over N, H, W are BN's dβ and dγ. q is dc's coefficient of (c − μ).
template <typename A, typename PT>
struct ChannelGradSums {
  Dims d;
  const double *sa, *sb, *ds;
  State st;
  bool gated;
  double *d1;
  PT *dgamma, *dbeta;
  A* q;
  C10_HOST_DEVICE void operator()(int64_t j) const {
    double D1 = 0, D2 = 0;
    for (int64_t n = 0; n < d.N; ++n) {
      const int64_t i = n * d.C + j;
      if (gated) {
        D1 += st.g()[i] * sa[i] + ds[i] * st.wsum()[j];
        D2 += st.g()[i] * sb[i] + ds[i] * st.xw()[i];
      } else {
        D1 += sa[i];
        D2 += sb[i];
      }
    }
    const double alpha = st.gamma()[j] * st.invstd()[j], M = double(d.N * d.P);
    d1[j] = D1;
    dgamma[j] = PT(D2);
    dbeta[j] = PT(D1);
    q[j] = A(-alpha * st.invstd()[j] * D2 / M);
  }
};

// Backward, pass 4 (i over N·C): dc = α·(dx − D1/M − x̂·D2/M) = dz·u + (c − μ)·q + r (+ v ⊙ w),
// α = γ·invstd; the average's w = 1/P is a constant, in r.
template <typename A>
struct InputGradCoefficients {
  Dims d;
  const double *ds, *d1;  // ds null: no gate
  State st;
  bool weighted;
  A *u, *r, *v;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C;
    const double alpha = st.gamma()[j] * st.invstd()[j];
    const double g = ds ? st.g()[i] : 1.0;
    const double vi = ds ? alpha * ds[i] : 0.0;
    u[i] = A(alpha * g);
    r[i] = A(-alpha * d1[j] / double(d.N * d.P) + (ds && !weighted ? vi / double(d.P) : 0.0));
    if (weighted) v[i] = A(vi);
  }
};

// Backward, pass 5 (i over N·P·C): dc.
template <typename T, typename PT>
struct InputGrad {
  using A = acc_t<T>;
  Dims d;
  const T *dz, *c;
  const PT* w;  // null: no weighted gather
  const A *mu_a, *q, *u, *r, *v;
  T* dc;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, np = i / d.C, nj = (np / d.P) * d.C + j;
    A y = A(dz[i]) * u[nj] + (A(c[i]) - mu_a[j]) * q[j] + r[nj];
    if (w) y += v[nj] * A(w[(np % d.P) * d.C + j]);
    dc[i] = T(y);
  }
};

// Backward, pass 6 (i over P·C, weighted gather with a gradient): dw = Σ_n ds ⊗ x, x = bn(c).
template <typename T, typename PT>
struct WeightGrad {
  using A = acc_t<T>;
  Dims d;
  const T* c;
  const double* ds;
  State st;
  PT* dw;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, p = i / d.C;
    const double alpha = st.gamma()[j] * st.invstd()[j], mu = st.mu()[j], beta = st.beta()[j];
    double s = 0;
    for (int64_t n = 0; n < d.N; ++n) s += ds[n * d.C + j] * ((double(A(c[(n * d.P + p) * d.C + j])) - mu) * alpha + beta);
    dw[i] = PT(s);
  }
};

}  // namespace gex::tail
