#include "models/cell_gate.h"

#include <ATen/Parallel.h>

#include <vector>

#include "models/block_tail.h"
#include "models/cell_map.h"
#include "models/device_tensors.h"
#include "models/global_gate.h"
#include "models/tail_kernels.h"
#include "models/vector_clones.h"
#if GEX_WITH_CUDA_KERNELS
#include "models/cell_gate_device.h"
#include "models/tail_launch.h"
#endif

namespace gex {

namespace {

// The loops see one image of a channels-last map as P×C and its gate as K×C (K cells): every
// inner loop is a contiguous run over channels. `cell[p]` is position p's cell.

// Forward: out = x·g(cell) (+ sc), then the ReLU.
template <typename T>
GEX_VECTOR_CLONES void gate_image(T* __restrict out, const T* __restrict x, const T* __restrict g,
                                  const T* __restrict sc, const int32_t* __restrict cell, bool relu, int64_t P,
                                  int64_t C) {
  for (int64_t p = 0; p < P; ++p, out += C, x += C) {
    const T* __restrict gp = g + int64_t(cell[p]) * C;
    if (sc) {
      for (int64_t j = 0; j < C; ++j) out[j] = x[j] * gp[j] + sc[j];
      sc += C;
    } else {
      for (int64_t j = 0; j < C; ++j) out[j] = x[j] * gp[j];
    }
    if (relu)
      for (int64_t j = 0; j < C; ++j) out[j] = out[j] > T(0) ? out[j] : T(0);
  }
}

// Backward: dz = dout (with the ReLU: where out > 0, else 0) is the shortcut's gradient (dsc),
// dx = dz·g(cell), and s(cell) += dz·x sums each cell's gradient at its gate.
template <typename T>
GEX_VECTOR_CLONES void gate_image_grad(T* __restrict dx, T* __restrict dsc, T* __restrict s,
                                       const T* __restrict dout, const T* __restrict out, const T* __restrict x,
                                       const T* __restrict g, const int32_t* __restrict cell, int64_t P, int64_t C) {
  for (int64_t p = 0; p < P; ++p, dx += C, dout += C, x += C) {
    const T* __restrict gp = g + int64_t(cell[p]) * C;
    T* __restrict sp = s + int64_t(cell[p]) * C;
    for (int64_t j = 0; j < C; ++j) {
      const T z = !out || out[j] > T(0) ? dout[j] : T(0);
      if (dsc) dsc[j] = z;
      dx[j] = z * gp[j];
      sp[j] += z * x[j];
    }
    if (out) out += C;
    if (dsc) dsc += C;
  }
}

std::vector<int32_t> cell_of_each_position(const tail::Cells& cells) {
  std::vector<int32_t> cell(cells.H * cells.W);
  for (int64_t p = 0; p < int64_t(cell.size()); ++p) cell[p] = int32_t(cells.of(p));
  return cell;
}

template <typename T>
class CpuCellGate : public torch::autograd::Function<CpuCellGate<T>> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& logits, const torch::Tensor& shortcut, int64_t extent,
                               bool relu) {
    const int64_t N = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
    const tail::Cells cells{x.size(2), x.size(3), extent};
    const int64_t K = cells.count();
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto g = torch::sigmoid(logits.detach()).contiguous(cl);  // N×K×C in memory
    const auto sc = shortcut.numel() ? shortcut.contiguous(cl) : torch::Tensor();
    const auto cell = cell_of_each_position(cells);
    auto out = torch::empty_like(x, cl);
    const T *xd = x.data_ptr<T>(), *gd = g.data_ptr<T>(), *scd = ptr<T>(sc);
    T* od = out.data_ptr<T>();
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n)
        gate_image<T>(od + n * P * C, xd + n * P * C, gd + n * K * C, scd ? scd + n * P * C : nullptr, cell.data(),
                      relu, P, C);
    });
    ctx->save_for_backward({x, relu ? out : torch::Tensor(), g});
    ctx->saved_data["extent"] = extent;
    ctx->saved_data["shortcut"] = sc.defined();
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto &x = saved[0], &out = saved[1], &g = saved[2];
    const int64_t N = x.size(0), C = x.size(1), P = x.size(2) * x.size(3);
    const tail::Cells cells{x.size(2), x.size(3), ctx->saved_data["extent"].toInt()};
    const int64_t K = cells.count();
    const auto cl = torch::MemoryFormat::ChannelsLast;
    const auto cell = cell_of_each_position(cells);
    const auto dout = grads[0].contiguous(cl);
    auto dx = torch::empty_like(x, cl);
    auto dsc = ctx->saved_data["shortcut"].toBool() ? torch::empty_like(x, cl) : torch::Tensor();
    auto s = torch::zeros_like(g, cl);
    const T *doutd = dout.data_ptr<T>(), *od = ptr<T>(out), *xd = x.data_ptr<T>(), *gd = g.data_ptr<T>();
    T *dxd = dx.data_ptr<T>(), *dscd = ptr<T>(dsc), *sd = s.data_ptr<T>();
    at::parallel_for(0, N, 1, [&](int64_t begin, int64_t end) {
      for (int64_t n = begin; n < end; ++n) {
        const int64_t off = n * P * C;
        gate_image_grad<T>(dxd + off, dscd ? dscd + off : nullptr, sd + n * K * C, doutd + off, od ? od + off : nullptr,
                           xd + off, gd + n * K * C, cell.data(), P, C);
      }
    });
    auto dlogits = s.mul_(g).mul_(1 - g);  // through the sigmoid
    return {dx, dlogits, dsc, torch::Tensor(), torch::Tensor()};
  }
};

#if GEX_WITH_CUDA_KERNELS
torch::Tensor cuda_cell_gate(const torch::Tensor& x, const torch::Tensor& logits, int64_t extent,
                             const torch::Tensor& shortcut, bool relu) {
  using tail::CudaLaunch;
  if (x.scalar_type() == torch::kBFloat16)
    return DeviceCellGate<c10::BFloat16, CudaLaunch>::apply(x, logits, shortcut, extent, relu);
  if (x.scalar_type() == torch::kHalf) return DeviceCellGate<c10::Half, CudaLaunch>::apply(x, logits, shortcut, extent, relu);
  return DeviceCellGate<float, CudaLaunch>::apply(x, logits, shortcut, extent, relu);
}
#endif

}  // namespace

bool cell_gate_applies(const torch::Tensor& x, int extent, const torch::Tensor& shortcut) {
  if (!fused_training_enabled() || !torch::GradMode::is_enabled() || !x.requires_grad()) return false;
  if (x.dim() != 4 || !x.is_contiguous(torch::MemoryFormat::ChannelsLast)) return false;
  if (shortcut.defined() &&
      (shortcut.sizes() != x.sizes() || shortcut.scalar_type() != x.scalar_type() || shortcut.device() != x.device()))
    return false;
  const auto type = x.scalar_type();
  const bool built = x.is_cuda() ? cuda_block_tail_built() && (type == torch::kFloat32 || type == torch::kBFloat16 ||
                                                               type == torch::kHalf)
                                 : x.device().is_cpu() && (type == torch::kFloat32 || type == torch::kFloat64);
  return built && interpolation_takes_cells(x, extent);
}

torch::Tensor fused_cell_gate(const torch::Tensor& x, const torch::Tensor& logits, int extent,
                              const torch::Tensor& shortcut, bool relu) {
  const tail::Cells cells{x.size(2), x.size(3), extent};
  TORCH_CHECK(extent > 0 && logits.dim() == 4 && logits.size(0) == x.size(0) && logits.size(1) == x.size(1) &&
                  logits.size(2) == cells.rows() && logits.size(3) == cells.cols(),
              "a gate of ", logits.sizes(), " is not the cells of extent ", extent, " for a map of ", x.sizes());
  count_fused_node(false, true, true);
  const auto sc = shortcut.defined() ? shortcut : torch::empty({0}, x.options());
#if GEX_WITH_CUDA_KERNELS
  if (x.is_cuda()) return cuda_cell_gate(x, logits, extent, sc, relu);
#endif
  // The CPU node computes in the map's type.
  const auto l = logits.to(x.scalar_type());
  if (x.scalar_type() == torch::kFloat64) return CpuCellGate<double>::apply(x, l, sc, extent, relu);
  return CpuCellGate<float>::apply(x, l, sc, extent, relu);
}

}  // namespace gex
