#include "models/option_a_shortcut.h"

#include <ATen/Parallel.h>

#include <cstring>

namespace gex {

namespace {

// Channels-last maps are rows of C values per pixel: every copy below moves whole rows.
template <typename T>
void subsample_forward(const T* x, T* y, int64_t N, int64_t C, int64_t H, int64_t W, int64_t s, int64_t front,
                       int64_t out_c, int64_t Ho, int64_t Wo) {
  at::parallel_for(0, N * Ho, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / Ho, i = row % Ho;
      for (int64_t j = 0; j < Wo; ++j) {
        T* out = y + ((n * Ho + i) * Wo + j) * out_c;
        const T* in = x + ((n * H + i * s) * W + j * s) * C;
        std::memset(out, 0, sizeof(T) * size_t(front));
        std::memcpy(out + front, in, sizeof(T) * size_t(C));
        std::memset(out + front + C, 0, sizeof(T) * size_t(out_c - front - C));
      }
    }
  });
}

// dx: the sampled pixels take their rows of dy, every other pixel zero, in one pass.
template <typename T>
void subsample_backward(const T* dy, T* dx, int64_t N, int64_t C, int64_t H, int64_t W, int64_t s, int64_t front,
                        int64_t out_c, int64_t Ho, int64_t Wo) {
  at::parallel_for(0, N * H, 1, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t n = row / H, h = row % H;
      T* out = dx + (n * H + h) * W * C;
      if (h % s != 0 || h / s >= Ho) {
        std::memset(out, 0, sizeof(T) * size_t(W * C));
        continue;
      }
      for (int64_t w = 0; w < W; ++w, out += C) {
        if (w % s != 0 || w / s >= Wo) {
          std::memset(out, 0, sizeof(T) * size_t(C));
          continue;
        }
        std::memcpy(out, dy + ((n * Ho + h / s) * Wo + w / s) * out_c + front, sizeof(T) * size_t(C));
      }
    }
  });
}

class OptionA : public torch::autograd::Function<OptionA> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, int64_t stride,
                               int64_t front, int64_t back) {
    const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
    const int64_t Ho = (H + stride - 1) / stride, Wo = (W + stride - 1) / stride, out_c = C + front + back;
    auto y = torch::empty({N, out_c, Ho, Wo}, x.options().memory_format(torch::MemoryFormat::ChannelsLast));
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "option_a_shortcut", [&] {
      subsample_forward<scalar_t>(x.data_ptr<scalar_t>(), y.data_ptr<scalar_t>(), N, C, H, W, stride, front, out_c,
                                  Ho, Wo);
    });
    ctx->saved_data["shape"] = x.sizes().vec();
    ctx->saved_data["stride"] = stride;
    ctx->saved_data["front"] = front;
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto shape = ctx->saved_data["shape"].toIntVector();
    const int64_t s = ctx->saved_data["stride"].toInt(), front = ctx->saved_data["front"].toInt();
    const auto dy = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t N = shape[0], C = shape[1], H = shape[2], W = shape[3];
    auto dx = torch::empty(shape, dy.options().memory_format(torch::MemoryFormat::ChannelsLast));
    AT_DISPATCH_FLOATING_TYPES(dy.scalar_type(), "option_a_shortcut_backward", [&] {
      subsample_backward<scalar_t>(dy.data_ptr<scalar_t>(), dx.data_ptr<scalar_t>(), N, C, H, W, s, front,
                                   dy.size(1), dy.size(2), dy.size(3));
    });
    return {dx, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor option_a_shortcut(const torch::Tensor& x, int64_t stride, int64_t pad_front, int64_t pad_back) {
  const bool node = x.device().is_cpu() && x.dim() == 4 && (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kFloat64) &&
                    x.is_contiguous(torch::MemoryFormat::ChannelsLast);
  if (node) return OptionA::apply(x, stride, pad_front, pad_back);
  using torch::indexing::None;
  using torch::indexing::Slice;
  auto y = stride == 1 ? x : x.index({Slice(), Slice(), Slice(None, None, stride), Slice(None, None, stride)});
  return pad_front + pad_back > 0 ? torch::constant_pad_nd(y, {0, 0, 0, 0, pad_front, pad_back}, 0.0) : y;
}

}  // namespace gex
