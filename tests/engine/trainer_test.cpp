// The trainer: the loss goes down, runs resume bitwise, NaN stops a run, cancellation is prompt,
// and the schedule and the optimiser follow their formulas.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <thread>

#include <unistd.h>

#include "analysis/extent_sweep.h"
#include "error_message.h"
#include "errors.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"
#include "seeded.h"
#include "temp_dir.h"
#include "train/run_dir.h"
#include "train/run_lock.h"
#include "train/awake_clock.h"
#include "train/cuda_graph.h"
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

// The usual slips where a run is asked for (--resume, gex probe --run): its run.json, one of its
// checkpoints or its checkpoints folder names the run to give; a plain file or folder says what it is.
TEST_F(Trainer, APartOfARunGivenForTheRunNamesTheRun) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() / "run" / "checkpoints");
  dir.write("run/run.json", "{}");
  dir.write("run/checkpoints/last.safetensors", "x");
  dir.write("notes.txt", "x");
  const std::string run = dir.file("run");
  const std::pair<std::string, std::string> cases[] = {
      {run + "/run.json", run + "/run.json: is a run's run.json, not its folder: give the run, " + run},
      {run + "/checkpoints/last.safetensors", run + "/checkpoints/last.safetensors: is a checkpoint of the run " + run + ": give the run's folder"},
      {run + "/checkpoints", run + "/checkpoints: is the checkpoints folder of the run " + run + ": give the run's folder"},
      {run + "/checkpoints/", run + "/checkpoints/: is the checkpoints folder of the run " + run + ": give the run's folder"},
      {dir.file("notes.txt"), dir.file("notes.txt") + ": is a file, not a run directory"},
      {dir.file("nowhere"), dir.file("nowhere") + ": no such run directory"},
      {dir.path().string(), dir.path().string() + ": not a run directory (no run.json)"}};
  for (const auto& [given, says] : cases) {
    try {
      RunDirectory::open(given);
      ADD_FAILURE() << given << " opened as a run";
    } catch (const InputError& e) {
      EXPECT_EQ(std::string(e.what()), says);
    }
  }
}

TEST_F(Trainer, DrivesTheLossDownOnSyntheticData) {
  TempDir dir;
  auto c = small_config();
  c.steps = 60;
  WorkControl control;
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
  TempDir dir;
  auto c = small_config();
  c.threads = 1;
  c.schedule = "constant";
  c.augment = "on";
  c.eval_every = 7;
  WorkControl control;
  c.steps = 24;
  train(dir.file("straight"), c, {}, control);
  c.steps = 12;
  train(dir.file("split"), c, {}, control);
  ResumeOptions to24;
  to24.steps = 24;
  resume(dir.file("split"), to24, {}, control);
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
  WorkControl control;
  train(dir.file("run"), c, {}, control);
  // A crash after step 8's checkpoint would leave rows past it; fake some for steps 9..10.
  auto run = RunDirectory::open(dir.file("run"));
  run.append_metrics({{9, 1.0, "train", 9.0, 0.9, 0.9, 0.05, 1, 1}, {10, 1.1, "train", 9.0, 0.9, 0.9, 0.05, 1, 1}});
  ResumeOptions to12;
  to12.steps = 12;
  resume(dir.file("run"), to12, {}, control);
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

TEST_F(Trainer, NaNLossFailsTheRunAndKeepsTheCheckpointSavedBeforeIt) {
  TempDir dir;
  auto c = small_config();
  c.steps = 400;
  c.schedule = "constant";
  // A warm-up that never ends: the learning rate is step + 1, fine for the first steps, then the
  // loss diverges.
  c.lr = 1e4;
  c.warmup_steps = 10000;
  c.checkpoint_every = 2;
  c.log_every = 1;
  c.eval_every = 1000;
  WorkControl control;
  EXPECT_THROW(train(dir.file("run"), c, {}, control), RunError);
  const auto run = RunDirectory::open(dir.file("run"));
  EXPECT_EQ(run.status(), RunStatus::kFailed);
  const auto at = run.message().rfind("at step ");
  ASSERT_NE(at, std::string::npos) << run.message();
  const int64_t failed = std::stoll(run.message().substr(at + 8));
  ASSERT_GT(failed, 2) << "the loss diverged before the first checkpoint; the test needs one";
  // `last` is the checkpoint of the last even step before the failure, and holds finite weights.
  const auto saved = read_safetensors(dir.file("run/checkpoints/last.safetensors"));
  const int64_t step = std::stoll(saved.metadata.at("step"));
  EXPECT_EQ(step % 2, 0);
  EXPECT_LT(step, failed);
  EXPECT_GE(step, failed - 2);
  for (const auto& [name, t] : saved.tensors) {
    if (t.is_floating_point()) {
      EXPECT_TRUE(torch::isfinite(t).all().item<bool>()) << name;
    }
  }
}

TEST_F(Trainer, AFailureIsSaidWithoutLibTorchsBacktraceAndRunningOutOfMemoryAsSuch) {
  try {
    TORCH_CHECK(false, "a check that failed");
    ADD_FAILURE() << "TORCH_CHECK(false) did not throw";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("frame #"), std::string::npos) << "LibTorch's what() has no backtrace now";
    EXPECT_EQ(error_message(e), "a check that failed");
  }
#ifndef __SANITIZE_ADDRESS__  // AddressSanitizer's allocator aborts on a request that large
  try {
    // 2^45 bytes (35 TB): more than any machine running this has.
    const auto huge = torch::empty({int64_t(1) << 45}, torch::kUInt8);
    ADD_FAILURE() << "allocated " << huge.numel() << " bytes";
  } catch (const c10::Error& e) {
    EXPECT_EQ(error_message(e),
              "out of memory: 35184.37 GB more could not be allocated (a smaller batch, input size or model needs less)")
        << e.what();
  }
#endif
  EXPECT_EQ(error_message(InputError("x.png", "the file is empty")), "x.png: the file is empty");
}

// The CUDA caching allocator's messages, word for word as LibTorch 1.13 and 2.x throw them (no GPU
// here to run out of).
TEST_F(Trainer, RunningOutOfGpuMemoryIsSaidWithTheGpusSize) {
  const auto said = [](const std::string& what) {
    try {
      TORCH_CHECK_WITH(OutOfMemoryError, false, what);
    } catch (const c10::Error& e) {
      return error_message(e);
    }
    return std::string("nothing thrown");
  };
  EXPECT_EQ(said("CUDA out of memory. Tried to allocate 36.00 MiB (GPU 0; 7.93 GiB total capacity; 130.35 MiB "
                 "already allocated; 47.06 MiB free; 188.00 MiB reserved in total by PyTorch) If reserved memory "
                 "is >> allocated memory try setting max_split_size_mb to avoid fragmentation.  See documentation "
                 "for Memory Management and PYTORCH_CUDA_ALLOC_CONF"),
            "out of GPU memory: 36.00 MiB more could not be allocated on GPU 0, which has 7.93 GiB, 47.06 MiB of "
            "it free (a smaller batch, input size or model needs less)");
  EXPECT_EQ(said("CUDA out of memory. Tried to allocate 2.00 GiB. GPU 1 has a total capacity of 79.15 GiB of which "
                 "1.20 GiB is free. Including non-PyTorch memory, this process has 77.93 GiB memory in use. Of the "
                 "allocated memory 76.50 GiB is allocated by PyTorch, and 1.01 GiB is reserved by PyTorch but "
                 "unallocated."),
            "out of GPU memory: 2.00 GiB more could not be allocated on GPU 1, which has 79.15 GiB, 1.20 GiB of "
            "it free (a smaller batch, input size or model needs less)");
  EXPECT_EQ(said("CUDA out of memory. Tried to allocate 512 bytes"),
            "out of GPU memory: 512 bytes more could not be allocated (a smaller batch, input size or model needs less)");
  EXPECT_EQ(said("CUDA error: an illegal memory access was encountered"),
            "CUDA error: an illegal memory access was encountered");
}

TEST_F(Trainer, ResumeRecoversTheBestFromMetricsWhenTheCheckpointCannotSay) {
  TempDir dir;
  auto c = small_config();
  c.steps = 12;
  c.eval_every = 4;
  c.schedule = "constant";
  WorkControl control;
  train(dir.file("run"), c, {}, control);
  // The checkpoint's metrics become unreadable, and metrics.csv says step 8 was unbeatable.
  auto last = read_safetensors(dir.file("run/checkpoints/last.safetensors"));
  last.metadata["metrics"] = "{not json";
  write_safetensors(dir.file("run/checkpoints/last.safetensors"), last.tensors, last.metadata);
  auto rows = read_metrics(dir.file("run/metrics.csv"));
  std::string csv = std::string(kMetricsHeader) + "\n";
  for (auto& r : rows) {
    if (r.split == "val" && r.step == 8) r.top1_error = 1e-4;
    csv += format_metrics_row(r) + "\n";
  }
  dir.write("run/metrics.csv", csv);
  const std::string best_before = read_file(dir.file("run/checkpoints/best.safetensors"));
  std::vector<std::string> messages;
  TrainCallbacks cb;
  cb.on_message = [&](const std::string& m) { messages.push_back(m); };
  ResumeOptions to16;
  to16.steps = 16;
  const auto summary = resume(dir.file("run"), to16, cb, control);
  ASSERT_TRUE(summary.best);
  EXPECT_EQ(summary.best->step, 8);
  EXPECT_DOUBLE_EQ(summary.best->eval.top1_error, 1e-4);
  EXPECT_EQ(read_file(dir.file("run/checkpoints/best.safetensors")), best_before) << "a worse model replaced best";
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages.front().find("metrics.csv"), std::string::npos) << messages.front();
}

TEST_F(Trainer, ARunRecordsItsThreadsAndAResumeKeepsThemUnlessTold) {
  TempDir dir;
  auto c = small_config();
  c.steps = 4;
  c.threads = 0;  // one per core
  WorkControl control;
  const auto summary = train(dir.file("run"), c, {}, control);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(summary.threads, cores);
  EXPECT_EQ(RunDirectory::open(dir.file("run")).config().threads, cores);
  std::vector<std::string> messages;
  TrainCallbacks cb;
  cb.on_message = [&](const std::string& m) { messages.push_back(m); };
  ResumeOptions longer;
  longer.steps = 6;
  EXPECT_EQ(resume(dir.file("run"), longer, cb, control).threads, cores);
  EXPECT_TRUE(messages.empty());
  longer.steps = 8;
  longer.threads = cores + 1;
  EXPECT_EQ(resume(dir.file("run"), longer, cb, control).threads, cores + 1);
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("bitwise"), std::string::npos) << messages[0];
  EXPECT_EQ(RunDirectory::open(dir.file("run")).config().threads, cores + 1);
}

TEST_F(Trainer, CancelStopsWithinOneBatchAndLeavesAResumableRun) {
  TempDir dir;
  auto c = small_config();
  c.steps = 100;
  c.log_every = 1;
  WorkControl control;
  TrainCallbacks cb;
  cb.on_progress = [&](const TrainProgress& p) {
    if (p.step == 5) control.cancel();
  };
  const auto summary = train(dir.file("run"), c, cb, control);
  EXPECT_TRUE(summary.cancelled);
  EXPECT_EQ(summary.step, 5);
  const auto meta = read_safetensors(dir.file("run/checkpoints/last.safetensors")).metadata;
  EXPECT_EQ(meta.at("step"), "5");
  WorkControl again;
  ResumeOptions to8;
  to8.steps = 8;
  const auto resumed = resume(dir.file("run"), to8, {}, again);
  EXPECT_FALSE(resumed.cancelled);
  EXPECT_EQ(resumed.step, 8);
}

// A pause stretches one interval between reports; the ETA after it is the steps' pace again (each
// ETA over the steps left, in seconds a step, against the last one before the pause), where an
// average over the session would carry the pause to the end of the run (4.3–4.9× here).
TEST_F(Trainer, APausedIntervalDoesNotHoldUpTheEta) {
  TempDir dir;
  auto c = small_config();
  c.steps = 40;
  c.log_every = 2;
  WorkControl control;
  std::map<int64_t, double> eta;
  std::thread unpause;
  TrainCallbacks cb;
  cb.on_progress = [&](const TrainProgress& p) {
    eta[p.step] = p.eta_seconds;
    if (p.step != 12) return;
    control.set_paused(true);  // held at the top of step 13: the interval 12 → 14
    unpause = std::thread([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(2500));
      control.set_paused(false);
    });
  };
  const auto summary = train(dir.file("run"), c, cb, control);
  unpause.join();
  ASSERT_EQ(summary.step, 40);
  const auto rows = read_metrics(dir.file("run/metrics.csv"));
  const auto wall = [&](int64_t step) {
    for (const auto& r : rows)
      if (r.step == step && r.split == "train") return r.wall_seconds;
    return -1.0;
  };
  ASSERT_GT(wall(14) - wall(12), 2.5);  // the pause is in that interval
  const double before = eta.at(12) / (40 - 12);
  for (const int64_t step : {14, 16})
    EXPECT_LT(eta.at(step) / double(40 - step), 2 * before) << "at step " << step << ": " << eta.at(step) << " s";
}

// The time awake that the training clock and the collectives' waits count: a gap between looks
// counts at most the longest a busy machine takes to look; the rest was a stop of the process.
TEST(AwakeTally, AGapCountsAtMostTheLongestAndOnlyALookMovesIt) {
  using std::chrono::milliseconds;
  AwakeTally tally(milliseconds(100));
  const auto t0 = AwakeTally::Clock::now();
  const auto start = tally.look(t0);  // since the tally was made: a moment
  EXPECT_EQ(tally.look(t0 + milliseconds(60)) - start, milliseconds(60));
  EXPECT_EQ(tally.look(t0 + milliseconds(60) + std::chrono::hours(1)) - start, milliseconds(160));  // a stop
  const auto t1 = t0 + milliseconds(60) + std::chrono::hours(1);
  EXPECT_EQ(tally.at(t1 + milliseconds(30)) - start, milliseconds(190));
  EXPECT_EQ(tally.at(t1 + milliseconds(500)) - start, milliseconds(260));
  EXPECT_EQ(tally.look(t1 + milliseconds(30)) - start, milliseconds(190));  // `at` moved nothing
}

TEST_F(Trainer, ExtentSweepMovesAsideARunThatNeverReachedACheckpoint) {
  TempDir dir;
  auto c = small_config();
  c.steps = 2;
  c.model.variant = GEVariant::kTheta;
  auto planned = c;
  planned.model.extent = 4;
  RunDirectory::create(dir.file("sweep/e4"), planned, "cpu");  // a run killed before its first checkpoint
  WorkControl control;
  std::vector<std::string> messages;
  TrainCallbacks cb;
  cb.on_message = [&](const std::string& m) { messages.push_back(m); };
  {
    // ... unless it is still starting in another process: then it is left where it is.
    const RunLock other(dir.file("sweep/e4"));
    std::string refused;
    try {
      extent_sweep(dir.file("sweep"), c, {4}, false, cb, control);
    } catch (const UsageError& e) {
      refused = e.what();
    }
    EXPECT_NE(refused.find("sweep/e4 is being written by another process (pid " + std::to_string(::getpid()) + " on "),
              std::string::npos) << refused;
    EXPECT_FALSE(std::filesystem::exists(dir.file("sweep/e4.incomplete")));
    EXPECT_THROW(RunLock again(dir.file("sweep/e4")), UsageError);
  }
  const auto rows = extent_sweep(dir.file("sweep"), c, {4}, false, cb, control);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].finished);
  EXPECT_TRUE(std::filesystem::exists(dir.file("sweep/e4.incomplete/run.json")));
  EXPECT_TRUE(std::filesystem::exists(dir.file("sweep/e4/checkpoints/last.safetensors")));
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages[0].find("e4.incomplete"), std::string::npos) << messages[0];
}

// Two sweeps (or studies) on one folder: the run the other one was starting had no checkpoint when
// this one looked, and has one by the time its lock is free. It is the other's run, trained on from
// there, not moved aside as one that never reached a checkpoint.
TEST_F(Trainer, ARunCheckpointedElsewhereWhileTheSweepWaitsForItsLockIsNotMovedAside) {
  TempDir dir;
  auto c = small_config();
  c.steps = 2;
  c.probes = false;
  c.model.variant = GEVariant::kTheta;
  auto planned = c;
  planned.model.extent = 4;
  WorkControl control;
  auto first = planned;
  first.steps = 1;
  train(dir.file("other"), first, {}, control);  // what the other process will have written
  const std::string run = dir.file("sweep/e4");
  RunDirectory::create(run, planned, "cpu");  // begun there: run.json, no checkpoint yet
  std::optional<RunLock> other(std::in_place, run);
  std::thread other_process([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the sweep has looked, and waits for the lock
    for (const char* f : {"checkpoints/last.safetensors", "checkpoints/best.safetensors", "metrics.csv", "run.json"})
      std::filesystem::copy_file(dir.file("other/") + f, run + "/" + f, std::filesystem::copy_options::overwrite_existing);
    other.reset();
  });
  std::vector<SweepRow> rows;
  EXPECT_NO_THROW(rows = extent_sweep(dir.file("sweep"), c, {4}, false, {}, control));
  other_process.join();
  EXPECT_FALSE(std::filesystem::exists(run + ".incomplete"));
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].finished);
  EXPECT_EQ(read_safetensors(run + "/checkpoints/last.safetensors").metadata.at("step"), "2") << "trained on from step 1";
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

// The step a CUDA graph captures reads its learning rate from a tensor and starts from zero
// momentum buffers: the same steps as the plain rule, computed here by hand (Nesterov, decay).
TEST_F(Trainer, SgdWithATensorLearningRateTakesThePlainRulesSteps) {
  auto p = torch::tensor({1.0, -2.0}, torch::kFloat64).requires_grad_(true);
  Sgd sgd({{"p", p}}, {0.9, 0.1, true});
  sgd.prepare_buffers();
  auto expected = p.detach().clone();
  auto b = torch::zeros({2}, torch::kFloat64);
  const std::vector<std::vector<double>> grads = {{0.5, 0.5}, {0.0, 1.0}, {-1.0, 0.25}};
  const std::vector<double> lrs = {0.5, 0.25, 0.125};
  auto lr = torch::zeros({}, torch::kFloat64);
  for (size_t k = 0; k < grads.size(); ++k) {
    const auto g = torch::tensor(grads[k], torch::kFloat64);
    p.mutable_grad() = g.clone();
    lr.fill_(lrs[k]);  // set in place, as before each replay
    sgd.step(lr);
    const auto d = g + 0.1 * expected;
    b = (k == 0 ? d : 0.9 * b + d);
    expected = expected - lrs[k] * (d + 0.9 * b);
    EXPECT_TRUE(torch::allclose(p, expected, 0, 1e-12)) << "step " << k << ": " << p << " vs " << expected;
  }
  Sgd unprepared({{"p", p}}, {0.9, 0.0, false});
  EXPECT_THROW(unprepared.step(lr), c10::Error);  // a capture must not take the first step's branch
}

TEST_F(Trainer, DeviceNamesAndTheirRefusals) {
  for (const char* good : {"auto", "cpu", "cuda", "cuda:0", "cuda:12"}) EXPECT_TRUE(is_device_name(good)) << good;
  for (const char* bad : {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:0:1", "CPU"})
    EXPECT_FALSE(is_device_name(bad)) << bad;
  EXPECT_EQ(choose_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_THROW(choose_device("gpu"), UsageError);
  const auto count = static_cast<int>(torch::cuda::device_count());
  EXPECT_EQ(gpus().size(), size_t(count));
  EXPECT_THROW(choose_device("cuda:" + std::to_string(count)), UsageError);  // one beyond the last
  if (count == 0) {
    EXPECT_EQ(choose_device("auto"), torch::Device(torch::kCPU));
    EXPECT_THROW(choose_device("cuda"), UsageError);
    EXPECT_FALSE(GraphedFunction::unavailable(torch::kCPU).empty());
    EXPECT_EQ(GraphedFunction::create(torch::kCPU, [](const auto&) { return std::vector<torch::Tensor>{}; }, 1),
              nullptr);
  }
  TrainConfig c;
  c.device = "cuda:3";
  c.cuda_graph = "off";
  const auto back = TrainConfig::from_json(c.to_json(), "run.json");
  EXPECT_EQ(back.device, "cuda:3");
  EXPECT_EQ(back.cuda_graph, "off");
  auto older = nlohmann::json::parse(c.to_json());  // a run from before the field
  older.erase("cuda_graph");
  EXPECT_EQ(TrainConfig::from_json(older.dump(), "run.json").cuda_graph, "auto");
  c.cuda_graph = "sometimes";
  EXPECT_THROW(c.validate(), UsageError);
  c.cuda_graph = "on";
  c.device = "cpu";
  EXPECT_THROW(c.validate(), UsageError);
}

TEST_F(Trainer, RefusesDataThatDoesNotFitTheModel) {
  TempDir dir;
  auto c = small_config();
  c.steps = 2;
  c.model.in_channels = 3;  // synthetic data is generated at the model's channels: fits
  WorkControl control;
  EXPECT_NO_THROW(train(dir.file("a"), c, {}, control));
  c.model.num_classes = 7;  // but it has ten classes
  EXPECT_THROW(train(dir.file("b"), c, {}, control), UsageError);
  c.model.num_classes = 10;
  EXPECT_THROW(train(dir.file("a"), c, {}, control), UsageError);  // a run is already there
}

}  // namespace
}  // namespace gex
