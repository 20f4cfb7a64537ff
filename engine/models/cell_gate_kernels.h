// The cell gate of cell_gate.h, out = x ⊙ g(cell) (+ shortcut) (ReLU), for a GPU: as
// tail_kernels.h, each kernel is the work of one index i, compiled by nvcc into a kernel
// (tail_kernels.cu) and run by the CPU tests in a loop. Maps are channels-last, N×P×C; the gate
// g = σ(logits) is an N×K×C table of the maps' accumulation type A, K the cells (tail::Cells).
#pragma once

#include "models/tail_kernels.h"

namespace gex::tail {

// Forward (i over N·P·C): out = x·g of the position's cell, + sc, then the ReLU.
template <typename T>
struct CellGateOutput {
  using A = acc_t<T>;
  Dims d;
  const T *x, *sc;  // sc null: no shortcut
  const A* g;
  bool relu;
  T* out;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    A y = A(x[i]) * g[cell_entry(d, i)];
    if (sc) y += A(sc[i]);
    if (relu && !(y > A(0))) y = A(0);
    out[i] = T(y);
  }
};

// Backward (i over N·K·C): over the positions that take the cell, dz = dout (with the ReLU: where
// out > 0, else 0) is the shortcut's gradient, dx = dz·g; the logit's, (Σ dz·x)·g(1 − g).
template <typename T>
struct CellGateGrad {
  using A = acc_t<T>;
  Dims d;
  const T *dout, *out, *x;  // out null: no ReLU
  const A* g;
  T *dx, *dsc;  // dsc null: no shortcut
  A* dlogits;
  C10_HOST_DEVICE void operator()(int64_t i) const {
    const CellIndex cell = d.cell_index(i);
    const Span taking = d.cells.taking(cell.k);
    const A gi = g[i];
    A s = 0;
    for (int64_t h = taking.h0; h < taking.h1; ++h)
      for (int64_t w = taking.w0; w < taking.w1; ++w) {
        const int64_t e = d.at(cell.n, h, w, cell.j);
        const A z = !out || A(out[e]) > A(0) ? A(dout[e]) : A(0);
        if (dsc) dsc[e] = T(z);
        dx[e] = T(z * gi);
        s += z * A(x[e]);
      }
    dlogits[i] = s * gi * (A(1) - gi);
  }
};

}  // namespace gex::tail
