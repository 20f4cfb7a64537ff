// The fused block tail of block_tail.h, out = relu(bn(c) ⊙ g + shortcut), for a GPU: each kernel
// is written as the work of one index i, so that the same code runs as a CUDA kernel
// (tail_kernels.cu launches it over a grid) and on the CPU in a loop (the tests check it there
// against the modules' generic graph). Plain data, no Torch: nvcc compiles it alone.
//
// Maps are channels-last, seen as N×P×C (P = H·W, element (n, p, j) at (n·P + p)·C + j); gather
// weights as P×C. T is the maps' type (float, bf16, half; double on the CPU), PT the parameters'
// (BN's γ, β and running statistics, the gather weights), A the type the passes over the maps
// compute in. Per-channel algebra is in double, as on the CPU; what is kept per image and cell of
// the gate (N·K·C values) is in A. Reductions over P go through partial sums of kRows positions,
// so every thread does a fixed, small share and the result does not depend on scheduling:
// (n, k, j) sums positions k·kRows … k·kRows + kRows − 1; a local gate's sums per cell loop over
// the cell's positions.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace gex::tail {

constexpr int64_t kRows = 16;

// The cells of a gate map: one for a whole-map gate (e = 0); for GE-θ⁻ at a local extent e
// (GE-SPEC §1) the Ho×Wo outputs of an average pool with window 2e − 1, stride e and padding
// e − 1 (padded positions not counted), the gate of position (h, w) the cell nearest-neighbour
// interpolation takes it from — computed as ATen's `nearest_idx` (a float scale), as its CUDA and
// float kernels do, so that the fused nodes and the module's `interpolate` pick the same cell;
// where the linked LibTorch picks otherwise the fused nodes stand aside (cell_map.h).
// Rows [h0, h1) and columns [w0, w1) of a map.
struct Span {
  int64_t h0, h1, w0, w1;
  C10_HOST_DEVICE int64_t size() const { return (h1 - h0) * (w1 - w0); }
};

struct Cells {
  int64_t H = 1, W = 1, e = 0;
  C10_HOST_DEVICE int64_t rows() const { return e ? (H - 1) / e + 1 : 1; }
  C10_HOST_DEVICE int64_t cols() const { return e ? (W - 1) / e + 1 : 1; }
  C10_HOST_DEVICE int64_t count() const { return rows() * cols(); }

  // The source index of output index o when `in` values are interpolated to `out`.
  static C10_HOST_DEVICE int64_t nearest(int64_t o, int64_t in, int64_t out) {
    if (in == out) return o;
    if (out == 2 * in) return o >> 1;
    const float scale = float(in) / float(out);
    const int64_t s = int64_t(::floorf(float(o) * scale));
    return s < in - 1 ? s : in - 1;
  }
  // The first output index whose source is at least y (out when none is).
  static C10_HOST_DEVICE int64_t first_taking(int64_t y, int64_t in, int64_t out) {
    int64_t o = y * out / in;
    while (o > 0 && nearest(o - 1, in, out) >= y) --o;
    while (o < out && nearest(o, in, out) < y) ++o;
    return o;
  }
  // The cell whose gate position p = h·W + w takes.
  C10_HOST_DEVICE int64_t of(int64_t p) const {
    return e ? nearest(p / W, rows(), H) * cols() + nearest(p % W, cols(), W) : 0;
  }
  // Rows [*lo, *hi) of the map that take cell row y (columns: the same with W and cols()).
  C10_HOST_DEVICE void taking_rows(int64_t y, int64_t* lo, int64_t* hi) const {
    *lo = first_taking(y, rows(), H);
    *hi = first_taking(y + 1, rows(), H);
  }
  C10_HOST_DEVICE void taking_cols(int64_t x, int64_t* lo, int64_t* hi) const {
    *lo = first_taking(x, cols(), W);
    *hi = first_taking(x + 1, cols(), W);
  }
  // The window of cell row y, [*lo, *hi) within the map: y·e − (e − 1) … y·e + e − 1.
  C10_HOST_DEVICE void window(int64_t y, int64_t size, int64_t* lo, int64_t* hi) const {
    *lo = y * e - (e - 1) > 0 ? y * e - (e - 1) : 0;
    *hi = y * e + e < size ? y * e + e : size;
  }
  // The positions that take cell k, and those it averages.
  C10_HOST_DEVICE Span taking(int64_t k) const {
    Span s;
    taking_rows(k / cols(), &s.h0, &s.h1);
    taking_cols(k % cols(), &s.w0, &s.w1);
    return s;
  }
  C10_HOST_DEVICE Span window_of(int64_t k) const {
    Span s;
    window(k / cols(), H, &s.h0, &s.h1);
    window(k % cols(), W, &s.w0, &s.w1);
    return s;
  }
  C10_HOST_DEVICE int64_t window_size(int64_t k) const { return window_of(k).size(); }
  // The cell rows whose windows hold map row h, [*lo, *hi): h/e … (h + e − 1)/e, at most two.
  C10_HOST_DEVICE void holding(int64_t h, int64_t cells, int64_t* lo, int64_t* hi) const {
    *lo = h / e;
    *hi = (h + e - 1) / e + 1 < cells ? (h + e - 1) / e + 1 : cells;
  }
};

template <typename T>
using acc_t = std::conditional_t<std::is_same_v<T, double>, double, float>;

// Entry i of an N·K·C table: image n, cell k, channel j.
struct CellIndex {
  int64_t n, k, j;
};

struct Dims {
  int64_t N, C, P;
  Cells cells = {};  // of the gate
  C10_HOST_DEVICE int64_t chunks() const { return (P + kRows - 1) / kRows; }
  C10_HOST_DEVICE int64_t images_by_channels() const { return N * C; }
  C10_HOST_DEVICE int64_t partials() const { return N * chunks() * C; }
  C10_HOST_DEVICE int64_t elements() const { return N * P * C; }
  C10_HOST_DEVICE CellIndex cell_index(int64_t i) const {
    return {i / (C * cells.count()), (i / C) % cells.count(), i % C};
  }
  // The element of image n, map row h, column w, channel j.
  C10_HOST_DEVICE int64_t at(int64_t n, int64_t h, int64_t w, int64_t j) const {
    return (n * P + h * cells.W + w) * C + j;
  }
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

// What the backward needs (the CPU node keeps the same, block_tail.cpp): per channel in double, μ,
// invstd, γ, β, Σ_p w (C each); with a gate, per image and cell in G (the passes' type: a local
// gate's cells number a quarter of the map at e = 2), g and Σ_p w·x̂ (N·K·C each; a local gate's
// w: its window's average).
template <typename G>
struct State {
  double* base;
  G* cells;  // null: no gate
  int64_t N, C, K = 1;
  C10_HOST_DEVICE double* mu() const { return base; }
  C10_HOST_DEVICE double* invstd() const { return base + C; }
  C10_HOST_DEVICE double* gamma() const { return base + 2 * C; }
  C10_HOST_DEVICE double* beta() const { return base + 3 * C; }
  C10_HOST_DEVICE double* wsum() const { return base + 4 * C; }
  C10_HOST_DEVICE G* g() const { return cells; }
  C10_HOST_DEVICE G* xw() const { return cells + N * K * C; }
  static constexpr int64_t channel_size(int64_t c) { return 5 * c; }
  static constexpr int64_t cell_size(int64_t n, int64_t c, int64_t k) { return 2 * n * k * c; }
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
  State<A> st;
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
  State<A> st;
  A* s;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C;
    const double wc = sw ? sw[i] : s1[i] / double(d.P);
    const double xw = st.invstd()[j] * (wc - shift[j] * st.wsum()[j]);
    st.xw()[i] = A(xw);
    s[i] = A(st.gamma()[j] * xw + st.beta()[j] * st.wsum()[j]);
  }
};

// Forward, pass 4 with a local gate (i over N·K·C): the logit γ·xw + β of each cell, xw the
// window's average of x̂ — BN's affine map commutes with the average.
template <typename T>
struct LocalGather {
  using A = acc_t<T>;
  Dims d;
  const T* c;
  const A* mu_a;
  State<A> st;
  A* logits;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const CellIndex cell = d.cell_index(i);
    const int64_t j = cell.j;
    const Span s = d.cells.window_of(cell.k);
    A acc = 0;
    for (int64_t h = s.h0; h < s.h1; ++h)
      for (int64_t w = s.w0; w < s.w1; ++w) acc += A(c[d.at(cell.n, h, w, j)]) - mu_a[j];
    const double xw = st.invstd()[j] * double(acc) / double(s.size());
    st.xw()[i] = A(xw);
    logits[i] = A(st.gamma()[j] * xw + st.beta()[j]);
  }
};

// Forward, pass 5 (i over N·K·C): the gate g = σ(logit) (1 without a gate) and the output's
// coefficients a = α·g, b = β·g (α = γ·invstd).
template <typename A>
struct OutputCoefficients {
  Dims d;
  const A* logits;  // null: no gate
  State<A> st;
  A *a, *b;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C;
    double g = 1.0;
    if (logits) {
      g = 1.0 / (1.0 + ::exp(-double(logits[i])));
      st.g()[i] = A(g);
    }
    a[i] = A(st.gamma()[j] * st.invstd()[j] * g);
    b[i] = A(st.beta()[j] * g);
  }
};

// The index of (image, cell of position, channel) in an N·K·C table for element i of a map.
C10_HOST_DEVICE inline int64_t cell_entry(const Dims& d, int64_t i) {
  const int64_t j = i % d.C, np = i / d.C, n = np / d.P;
  return d.cells.e ? (n * d.cells.count() + d.cells.of(np % d.P)) * d.C + j : n * d.C + j;
}

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
    const int64_t j = i % d.C, nj = cell_entry(d, i);
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
  State<A> st;
  A *sa, *sb, *ds;  // ds null: no gate
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t n = i / d.C, j = i % d.C;
    const double a = sum_of_chunks(parta, d, n, j), b = sum_of_chunks(partb, d, n, j);
    sa[i] = A(a);
    sb[i] = A(b);
    if (!ds) return;
    const double g = double(st.g()[i]);
    ds[i] = A((st.gamma()[j] * b + st.beta()[j] * a) * g * (1 - g));
  }
};

// Backward, passes 1 and 2 with a local gate (i over N·K·C): dz over the positions that take the
// cell, their sums sa = Σ dz and sb = Σ dz·x̂, and ds at the cell's logit.
template <typename T>
struct ReluGradCells {
  using A = acc_t<T>;
  Dims d;
  const T *dout, *out, *c;
  const A *mu_a, *invstd_a;
  State<A> st;
  T* dz;
  A *sa, *sb, *ds;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const CellIndex cell = d.cell_index(i);
    const int64_t j = cell.j;
    const Span s = d.cells.taking(cell.k);
    A a = 0, b = 0;
    for (int64_t h = s.h0; h < s.h1; ++h)
      for (int64_t w = s.w0; w < s.w1; ++w) {
        const int64_t e = d.at(cell.n, h, w, j);
        const A z = A(out[e]) > A(0) ? A(dout[e]) : A(0);
        dz[e] = T(z);
        a += z;
        b += z * ((A(c[e]) - mu_a[j]) * invstd_a[j]);
      }
    sa[i] = a;
    sb[i] = b;
    const double gi = double(st.g()[i]);
    ds[i] = A((st.gamma()[j] * double(b) + st.beta()[j] * double(a)) * gi * (1 - gi));
  }
};

// Backward, pass 3 (i over N·C): dx = dz·g + ds ⊗ w is the gradient at x = bn(c); its sums
// D1 = Σ dx and D2 = Σ dx·x̂ over each image's H, W (its cells').
template <typename A>
struct ImageGradTerms {
  Dims d;
  const A *sa, *sb, *ds;  // ds null: no gate
  State<A> st;
  double *d1n, *d2n;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, n = i / d.C, K = d.cells.count();
    double D1 = 0, D2 = 0;
    for (int64_t e = n * K * d.C + j; e < (n + 1) * K * d.C; e += d.C) {
      if (ds) {
        D1 += double(st.g()[e]) * double(sa[e]) + double(ds[e]) * st.wsum()[j];
        D2 += double(st.g()[e]) * double(sb[e]) + double(ds[e]) * double(st.xw()[e]);
      } else {
        D1 += double(sa[e]);
        D2 += double(sb[e]);
      }
    }
    d1n[i] = D1;
    d2n[i] = D2;
  }
};

// Backward, pass 4 (i = j over C): D1 and D2 over N, H, W are BN's dβ and dγ. q is dc's
// coefficient of (c − μ).
template <typename A, typename PT>
struct ChannelGradSums {
  Dims d;
  const double *d1n, *d2n;
  State<A> st;
  double* d1;
  PT *dgamma, *dbeta;
  A* q;
  C10_HOST_DEVICE void operator()(int64_t j) const {
    double D1 = 0, D2 = 0;
    for (int64_t n = 0; n < d.N; ++n) D1 += d1n[n * d.C + j], D2 += d2n[n * d.C + j];
    const double alpha = st.gamma()[j] * st.invstd()[j], M = double(d.N * d.P);
    d1[j] = D1;
    dgamma[j] = PT(D2);
    dbeta[j] = PT(D1);
    q[j] = A(-alpha * st.invstd()[j] * D2 / M);
  }
};

// Backward, pass 5 (i over N·K·C): dc = α·(dx − D1/M − x̂·D2/M) = dz·u + (c − μ)·q + r (+ v ⊙ w),
// α = γ·invstd; the whole-map average's w = 1/P is a constant, in r; a local gate's
// v = α·ds / (its window's size) goes to every position of the window.
template <typename A>
struct InputGradCoefficients {
  Dims d;
  const A* ds;  // null: no gate
  const double* d1;
  State<A> st;
  bool weighted;
  A *u, *r, *v;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C;
    const double alpha = st.gamma()[j] * st.invstd()[j];
    const double g = ds ? double(st.g()[i]) : 1.0;
    const double vi = ds ? alpha * double(ds[i]) : 0.0;
    const bool local = ds && d.cells.e;
    u[i] = A(alpha * g);
    r[i] = A(-alpha * d1[j] / double(d.N * d.P) + (ds && !weighted && !local ? vi / double(d.P) : 0.0));
    if (weighted) v[i] = A(vi);
    if (local) v[i] = A(vi / double(d.cells.window_size((i / d.C) % d.cells.count())));
  }
};

// Backward, pass 6 (i over N·P·C): dc.
template <typename T, typename PT>
struct InputGrad {
  using A = acc_t<T>;
  Dims d;
  const T *dz, *c;
  const PT* w;  // null: no weighted gather
  const A *mu_a, *q, *u, *r, *v;
  bool local;  // a local gate: + v of every cell whose window holds the position
  T* dc;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, np = i / d.C, nj = cell_entry(d, i);
    A y = A(dz[i]) * u[nj] + (A(c[i]) - mu_a[j]) * q[j] + r[nj];
    if (w) y += v[nj] * A(w[(np % d.P) * d.C + j]);
    if (local) {
      const Cells& g = d.cells;
      const int64_t n = np / d.P, p = np % d.P;
      int64_t ylo, yhi, xlo, xhi;
      g.holding(p / g.W, g.rows(), &ylo, &yhi);
      g.holding(p % g.W, g.cols(), &xlo, &xhi);
      for (int64_t y0 = ylo; y0 < yhi; ++y0)
        for (int64_t x0 = xlo; x0 < xhi; ++x0) y += v[(n * g.count() + y0 * g.cols() + x0) * d.C + j];
    }
    dc[i] = T(y);
  }
};

// Backward, pass 7 (i over P·C, weighted gather with a gradient): dw = Σ_n ds ⊗ x, x = bn(c).
template <typename T, typename PT>
struct WeightGrad {
  using A = acc_t<T>;
  Dims d;
  const T* c;
  const A* ds;
  State<A> st;
  PT* dw;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const int64_t j = i % d.C, p = i / d.C;
    const double alpha = st.gamma()[j] * st.invstd()[j], mu = st.mu()[j], beta = st.beta()[j];
    double s = 0;
    for (int64_t n = 0; n < d.N; ++n) s += double(ds[n * d.C + j]) * ((double(A(c[(n * d.P + p) * d.C + j])) - mu) * alpha + beta);
    dw[i] = PT(s);
  }
};

}  // namespace gex::tail
