// The trainer: the loss goes down, runs resume bitwise, NaN stops a run, cancellation is prompt,
// and the schedule and the optimiser follow their formulas.
#include <gtest/gtest.h>

#include <cmath>

#include "errors.h"
#include "io/safetensors.h"
#include "seeded.h"
#include "temp_dir.h"
#include "train/run_dir.h"
#include "train/sgd.h"
#include "train/trainer.h"

namespace gex {
namespace {

using test::TempDir;

TrainConfig small_config() {
  TrainConfig c;
  c.model.backbone = "resnet20";
  c.model.attention = AttentionKind::kGE;
  c.model.in_channels = 1;
  c.model.input_size = 16;
  c.data = "synthetic";
  c.batch = 32;
  c.lr = 0.05;
  c.eval_limit = 200;
  c.log_every = 2;
  return c;
}

class Trainer : public test::Seeded {};

TEST_F(Trainer, DrivesTheLossDownOnSyntheticData) {
  TempDir dir;
  auto c = small_config();
  c.steps = 60;
  TrainControl control;
  std::vector<double> losses;
  TrainCallbacks cb;
  cb.on_progress = [&](const TrainProgress& p) { losses.push_back(p.loss); };
  const auto summary = train(dir.file("run"), c, cb, control);
  ASSERT_FALSE(summary.cancelled);
  ASSERT_GE(losses.size(), 10u);
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  ASSERT_TRUE(summary.final);
  EXPECT_LT(summary.final->eval.top1_error, 0.5);  // chance is 0.9
  const auto rows = read_metrics(dir.file("run/metrics.csv"));
  EXPECT_EQ(rows.back().split, "val");
  EXPECT_EQ(rows.back().step, 60);
  EXPECT_NEAR(rows.back().top1_error, summary.final->eval.top1_error, 1e-6);
}

TensorList weights_of(const std::string& checkpoint) { return read_safetensors(checkpoint).tensors; }

TEST_F(Trainer, NStepsThenResumeToTwoNIsBitwiseTwoNStraight) {
  torch::set_num_threads(1);
  TempDir dir;
  auto c = small_config();
  c.schedule = "constant";
  c.augment = "on";
  c.eval_every = 7;
  TrainControl control;
  c.steps = 24;
  train(dir.file("straight"), c, {}, control);
  c.steps = 12;
  train(dir.file("split"), c, {}, control);
  resume(dir.file("split"), int64_t{24}, std::nullopt, {}, control);
  const auto a = weights_of(dir.file("straight/checkpoints/last.safetensors"));
  const auto b = weights_of(dir.file("split/checkpoints/last.safetensors"));
  ASSERT_EQ(a.size(), b.size());
  int momentum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
    momentum += a[i].first.rfind("optimizer.", 0) == 0;
  }
  EXPECT_GT(momentum, 0);  // the optimiser state is part of it
}

TEST_F(Trainer, ResumeDropsRowsWrittenAfterTheCheckpoint) {
  TempDir dir;
  auto c = small_config();
  c.steps = 8;
  c.checkpoint_every = 4;
  TrainControl control;
  train(dir.file("run"), c, {}, control);
  // A crash after step 8's checkpoint would leave rows past it; fake some for steps 9..10.
  auto run = RunDirectory::open(dir.file("run"));
  run.append_metrics({{9, 1.0, "train", 9.0, 0.9, 0.9, 0.05, 1, 1}, {10, 1.1, "train", 9.0, 0.9, 0.9, 0.05, 1, 1}});
  resume(dir.file("run"), int64_t{12}, std::nullopt, {}, control);
  const auto rows = read_metrics(dir.file("run/metrics.csv"));
  int64_t previous = 0;
  for (const auto& r : rows) {
    EXPECT_NE(r.loss, 9.0) << "a stale row survived at step " << r.step;
    if (r.split != "train") continue;
    EXPECT_GT(r.step, previous);
    previous = r.step;
  }
  EXPECT_EQ(previous, 12);
}

TEST_F(Trainer, NaNLossStopsTheRunAndKeepsTheLastGoodCheckpoint) {
  TempDir dir;
  auto c = small_config();
  c.steps = 40;
  c.lr = 1e9;
  c.checkpoint_every = 1000;
  TrainControl control;
  EXPECT_THROW(train(dir.file("run"), c, {}, control), RunError);
  EXPECT_EQ(RunDirectory::open(dir.file("run")).config().lr, 1e9);
  EXPECT_FALSE(std::filesystem::exists(dir.file("run/checkpoints/last.safetensors")));
}

TEST_F(Trainer, CancelStopsWithinOneBatchAndLeavesAResumableRun) {
  TempDir dir;
  auto c = small_config();
  c.steps = 100;
  c.log_every = 1;
  TrainControl control;
  TrainCallbacks cb;
  cb.on_progress = [&](const TrainProgress& p) {
    if (p.step == 5) control.cancel = true;
  };
  const auto summary = train(dir.file("run"), c, cb, control);
  EXPECT_TRUE(summary.cancelled);
  EXPECT_EQ(summary.step, 5);
  const auto meta = read_safetensors(dir.file("run/checkpoints/last.safetensors")).metadata;
  EXPECT_EQ(meta.at("step"), "5");
  control.cancel = false;
  const auto resumed = resume(dir.file("run"), int64_t{8}, std::nullopt, {}, control);
  EXPECT_FALSE(resumed.cancelled);
  EXPECT_EQ(resumed.step, 8);
}

TEST_F(Trainer, LearningRateSchedules) {
  TrainConfig c;
  c.lr = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0, 100), 0.1);
  EXPECT_DOUBLE_EQ(learning_rate(c, 49, 100), 0.1);
  EXPECT_NEAR(learning_rate(c, 50, 100), 0.01, 1e-12);
  EXPECT_NEAR(learning_rate(c, 75, 100), 0.001, 1e-12);
  c.schedule = "cosine";
  EXPECT_NEAR(learning_rate(c, 50, 100), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(c, 100, 100), 0.0, 1e-12);
  c.warmup_steps = 10;
  EXPECT_NEAR(learning_rate(c, 4, 100), 0.05, 1e-12);
  EXPECT_NEAR(learning_rate(c, 10, 100), 0.1, 1e-12);
}

TEST_F(Trainer, SgdFollowsPyTorchsRule) {
  auto p = torch::tensor({1.0, -2.0}, torch::kFloat64).requires_grad_(true);
  Sgd sgd({{"p", p}}, {0.9, 0.1, false});
  // Step 1: d = g + 0.1 p = [0.5, 0.5] + [0.1, -0.2]; b = d; p -= 0.5 b.
  p.mutable_grad() = torch::tensor({0.5, 0.5}, torch::kFloat64);
  sgd.step(0.5);
  EXPECT_TRUE(torch::allclose(p, torch::tensor({1.0 - 0.5 * 0.6, -2.0 - 0.5 * 0.3}, torch::kFloat64)));
  // Step 2: b = 0.9 b + d.
  const auto p1 = p.detach().clone();
  p.mutable_grad() = torch::tensor({0.0, 1.0}, torch::kFloat64);
  sgd.step(0.5);
  auto d = torch::tensor({0.0, 1.0}, torch::kFloat64) + 0.1 * p1;
  auto b = 0.9 * torch::tensor({0.6, 0.3}, torch::kFloat64) + d;
  EXPECT_TRUE(torch::allclose(p, p1 - 0.5 * b));
  EXPECT_EQ(sgd.state().at(0).first, "p.momentum_buffer");
}

TEST_F(Trainer, RefusesDataThatDoesNotFitTheModel) {
  TempDir dir;
  auto c = small_config();
  c.steps = 2;
  c.model.in_channels = 3;  // synthetic data is generated at the model's channels: fits
  TrainControl control;
  EXPECT_NO_THROW(train(dir.file("a"), c, {}, control));
  c.model.num_classes = 7;  // but it has ten classes
  EXPECT_THROW(train(dir.file("b"), c, {}, control), UsageError);
  c.model.num_classes = 10;
  EXPECT_THROW(train(dir.file("a"), c, {}, control), UsageError);  // a run is already there
}

}  // namespace
}  // namespace gex
