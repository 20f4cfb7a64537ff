#include "data/batches.h"

#include "data/batch_stream.h"

namespace gex {

namespace F = torch::nn::functional;

void channel_statistics(const torch::Tensor& images, std::vector<double>& mean, std::vector<double>& std) {
  const auto c = images.size(1);
  mean.assign(c, 0.0);
  std.assign(c, 1.0);
  // Float64 sums over chunks: exact enough for 60k images and no large float copy at once.
  auto sum = torch::zeros({c}, torch::kFloat64), sq = torch::zeros({c}, torch::kFloat64);
  const int64_t chunk = 4096;
  for (int64_t b = 0; b < images.size(0); b += chunk) {
    auto x = images.slice(0, b, std::min(images.size(0), b + chunk)).to(torch::kFloat64).div_(255.0);
    sum += x.sum({0, 2, 3});
    sq += x.pow(2).sum({0, 2, 3});
  }
  const double n = double(images.size(0)) * images.size(2) * images.size(3);
  for (int64_t k = 0; k < c; ++k) {
    const double m = sum[k].item<double>() / n;
    const double v = std::max(0.0, sq[k].item<double>() / n - m * m);
    mean[k] = m;
    std[k] = v > 1e-12 ? std::sqrt(v) : 1.0;
  }
}

void channel_statistics(const Split& split, std::vector<double>& mean, std::vector<double>& std) {
  if (!split.streamed)
    return channel_statistics(split.readable.defined() ? split.images.index({split.readable}) : split.images, mean, std);
  const int64_t n = split.size(), samples = std::min<int64_t>(1000, n), batch = 250;
  const auto rows = torch::arange(samples, torch::kInt64).mul_(n).div_(samples, "floor");
  std::vector<torch::Tensor> images;
  BatchStream stream(split, (samples + batch - 1) / batch, [&](int64_t k) {
    BatchPlan p;
    p.index = rows.slice(0, k * batch, std::min(samples, (k + 1) * batch));
    return p;
  });
  for (int64_t k = 0; k < (samples + batch - 1) / batch; ++k) images.push_back(stream.next().images);
  channel_statistics(torch::cat(images), mean, std);
}

torch::Tensor to_device(const torch::Tensor& t, torch::Device device) {
  if (!device.is_cuda() || t.device() == device) return t.to(device);
  return t.pin_memory().to(device, /*non_blocking=*/true);
}

BatchMaker::BatchMaker(const Preprocess& preprocess, bool augment, int pad)
    : m_size(preprocess.input_size), m_augment(augment), m_pad(pad) {
  const auto c = static_cast<int64_t>(preprocess.mean.size());
  m_mean = torch::tensor(std::vector<float>(preprocess.mean.begin(), preprocess.mean.end())).view({1, c, 1, 1});
  std::vector<float> inv;
  for (double s : preprocess.std) inv.push_back(static_cast<float>(1.0 / s));
  m_inv_std = torch::tensor(inv).view({1, c, 1, 1});
}

torch::Tensor BatchMaker::finish(torch::Tensor x) const {
  x = x.to(torch::kFloat32).div_(255.0);
  if (x.size(2) != m_size || x.size(3) != m_size)
    x = F::interpolate(x, F::InterpolateFuncOptions()
                              .size(std::vector<int64_t>{m_size, m_size})
                              .mode(torch::kBilinear)
                              .align_corners(false));
  x = x.sub_(m_mean.to(x.device())).mul_(m_inv_std.to(x.device()));
  return x.contiguous(torch::MemoryFormat::ChannelsLast);
}

torch::Tensor BatchMaker::operator()(const torch::Tensor& images) const { return finish(images); }

torch::Tensor BatchMaker::operator()(const torch::Tensor& images, at::Generator& generator, int64_t first,
                                     int64_t total, const torch::Tensor& positions) const {
  if (!m_augment) return finish(images);
  const auto n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  if (total < 0) total = n;
  // The draws are made on the host (the same for any device), the pixels moved where they are.
  const auto device = images.device();
  const auto mine = [&](const torch::Tensor& draws) {
    return (positions.defined() ? draws.index_select(0, positions + first) : draws.slice(0, first, first + n)).to(device);
  };
  // Pad with zeros, then one random h×w window per image, gathered along rows then columns.
  auto padded = F::pad(images, F::PadFuncOptions({m_pad, m_pad, m_pad, m_pad}));
  auto dy = mine(torch::randint(0, 2 * m_pad + 1, {total}, generator, torch::kInt64));
  auto dx = mine(torch::randint(0, 2 * m_pad + 1, {total}, generator, torch::kInt64));
  const auto on = torch::TensorOptions().dtype(torch::kInt64).device(device);
  auto rows = (dy.view({n, 1}) + torch::arange(h, on).view({1, h})).view({n, 1, h, 1});
  auto cols = (dx.view({n, 1}) + torch::arange(w, on).view({1, w})).view({n, 1, 1, w});
  auto out = padded.gather(2, rows.expand({n, c, h, w + 2 * m_pad}));
  out = out.gather(3, cols.expand({n, c, h, w}));
  // Flip half of them, left to right.
  auto flip = mine(torch::rand({total}, generator)).lt(0.5).view({n, 1, 1, 1});
  out = torch::where(flip, out.flip({3}), out);
  return finish(out);
}

}  // namespace gex
