#include "models/cell_map.h"

#include <map>
#include <mutex>
#include <tuple>

#include "models/tail_kernels.h"
#if GEX_WITH_CUDA
#include <c10/cuda/CUDAGraphsC10Utils.h>
#endif

namespace gex {

namespace {

namespace F = torch::nn::functional;

bool capturing_a_cuda_graph(const torch::Tensor& x) {
#if GEX_WITH_CUDA
  return x.is_cuda() && c10::cuda::currentStreamCaptureStatusMayInitCtx() != c10::cuda::CaptureStatus::None;
#else
  (void)x;
  return false;
#endif
}

// ATen's interpolation of a map whose cell (y, x) holds a label, against the label of the cell
// Cells gives each position. Labels (y mod 16)·16 + x mod 16 are exact in every floating type
// (bf16 included) and tell any two neighbouring cells apart, which is where the maps can differ.
bool cells_agree(const torch::Tensor& x, int64_t extent) {
  const tail::Cells cells{x.size(2), x.size(3), extent};
  const auto rows = torch::arange(cells.rows(), torch::kInt64).remainder(16) * 16;
  const auto cols = torch::arange(cells.cols(), torch::kInt64).remainder(16);
  const auto labels = (rows.view({-1, 1}) + cols.view({1, -1})).reshape({-1});
  const auto cell_map = labels.view({1, 1, cells.rows(), cells.cols()})
                            .expand({1, x.size(1), cells.rows(), cells.cols()})
                            .to(x.device(), x.scalar_type())
                            .contiguous(torch::MemoryFormat::ChannelsLast);
  const auto taken = F::interpolate(cell_map, F::InterpolateFuncOptions()
                                                  .size(std::vector<int64_t>{cells.H, cells.W})
                                                  .mode(torch::kNearest))
                         .select(0, 0)
                         .to(torch::kCPU, torch::kInt64)
                         .reshape({x.size(1), cells.H * cells.W});
  auto ours = torch::empty({cells.H * cells.W}, torch::kInt64);
  const auto label = labels.accessor<int64_t, 1>();
  auto entry = ours.accessor<int64_t, 1>();
  for (int64_t p = 0; p < cells.H * cells.W; ++p) entry[p] = label[cells.of(p)];
  return torch::equal(taken, ours.expand_as(taken));
}

}  // namespace

bool interpolation_takes_cells(const torch::Tensor& x, int64_t extent) {
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int, int, int>;
  static std::mutex mutex;
  static std::map<Key, bool> known;
  const Key key{x.size(1), x.size(2), x.size(3), extent, int(x.scalar_type()), int(x.device().type()),
                int(x.device().index())};
  const std::lock_guard<std::mutex> lock(mutex);
  if (const auto it = known.find(key); it != known.end()) return it->second;
  if (capturing_a_cuda_graph(x)) return false;
  torch::NoGradGuard no_grad;
  return known[key] = cells_agree(x, extent);
}

}  // namespace gex
