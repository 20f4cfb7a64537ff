#include "data/synthetic.h"

#include <cmath>

namespace gex {

namespace {

Split generate(int channels, int size, int64_t n, uint64_t seed) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto labels = torch::randint(0, 10, {n}, gen, torch::kInt64);
  const double pi = std::acos(-1.0);
  const double r = size / 4.0;
  // Class centres: eight compass points at radius size/4, then the centre (8) and a ring (9).
  auto angle = labels.to(torch::kFloat32) * (pi / 4.0);
  auto is_point = labels.lt(8).to(torch::kFloat32);
  auto cx = size / 2.0 + is_point * r * torch::cos(angle) + torch::randn({n}, gen) * (size / 28.0);
  auto cy = size / 2.0 + is_point * r * torch::sin(angle) + torch::randn({n}, gen) * (size / 28.0);
  auto grid = torch::arange(size, torch::kFloat32);
  auto dx = grid.view({1, 1, size}) - cx.view({n, 1, 1});
  auto dy = grid.view({1, size, 1}) - cy.view({n, 1, 1});
  auto dist = torch::sqrt(dx * dx + dy * dy);
  const double sigma = size / 9.0;
  auto blob = torch::exp(-(dist * dist) / (2 * sigma * sigma));
  auto ring = torch::exp(-torch::pow(dist - r, 2) / (2 * (sigma / 2) * (sigma / 2)));
  auto is_ring = labels.eq(9).to(torch::kFloat32).view({n, 1, 1});
  auto image = blob * (1 - is_ring) + ring * is_ring;
  auto brightness = 0.6 + 0.4 * torch::rand({n, 1, 1}, gen);
  image = image * brightness + 0.08 * torch::randn({n, size, size}, gen);
  auto pixels = (image.clamp(0, 1) * 255).round().to(torch::kUInt8);
  auto images = pixels.unsqueeze(1).expand({n, channels, size, size}).contiguous();
  Split split;
  split.images = images;
  split.labels = labels;
  return split;
}

}  // namespace

Dataset make_synthetic(int channels, int size, int64_t train_images, int64_t test_images) {
  Dataset data;
  data.name = "synthetic";
  data.channels = channels;
  data.height = data.width = size;
  for (const char* name : {"east", "south-east", "south", "south-west", "west", "north-west", "north",
                           "north-east", "centre", "ring"})
    data.class_names.push_back(name);
  data.train = generate(channels, size, train_images, 1234);
  data.test = generate(channels, size, test_images, 5678);
  return data;
}

}  // namespace gex
