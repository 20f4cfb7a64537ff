// Devices and CUDA graphs through `gex`, on a machine without a GPU (CI's): every request for one
// is refused with exit 2 before anything is written, and auto falls back to the CPU. And the
// switch bench/cuda.sh times the fused training nodes with.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include <algorithm>
#include <filesystem>

#include "gex_process.h"
#include "seeded.h"
#include "temp_dir.h"
#include "train/checkpoint.h"

namespace gex {
namespace {

namespace fs = std::filesystem;

class Devices : public test::GexTest {};

TEST_F(Devices, GpuRequestsWithoutAGpuExitTwoAndLeaveNoRun) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "this machine has a GPU";
  const std::string train = "train --data synthetic --input-size 16 --steps 2 --out " + dir.file("r") + " ";
  auto r = run(train + "--device cuda:0");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("no CUDA device"), std::string::npos) << r.err;
  r = run(train + "--device gpu");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("cuda:K"), std::string::npos) << r.err;
  r = run(train + "--cuda-graph on");  // --device auto finds no GPU
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err, "gex train: error: --cuda-graph on: CUDA graphs run on a GPU, and this work runs on the CPU\n")
      << "a refused run has no header";
  EXPECT_EQ(run(train + "--cuda-graph sometimes").code, 2);
  EXPECT_FALSE(fs::exists(dir.file("r")));
  // auto falls back to the CPU, silently: graphs are a GPU matter.
  r = run(train + "--cuda-graph auto --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["device"], "cpu");
  EXPECT_EQ(r.err.find("CUDA graph"), std::string::npos) << r.err;
  ASSERT_EQ(run("init --attention ge --in-channels 1 --input-size 16 --out " + dir.file("m.safetensors")).code, 0);
  r = run("gates --checkpoint " + dir.file("m.safetensors") + " --image " + dir.file("m.safetensors") +
          " --out " + dir.file("g") + " --device cuda");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_FALSE(fs::exists(dir.file("g")));
}

// GEX_FUSED_NODES=off, bench/cuda.sh's switch for timing the fused training nodes against the
// modules' own graph: the run says so, and three steps end at the fused run's weights (float
// rounding, and a pre-activation at the ReLU's kink falling either side, apart), not to the bit.
TEST_F(Devices, FusedNodesOffTrainsTheSameNetworkThroughTheGenericGraph) {
  // GE-θ⁻ with a whole-map gate and at extent 4 (its local gate fused into the tails as well), and
  // GE-θ at extent 4 (its gate a cell gate of its own).
  const std::vector<std::pair<std::string, std::string>> gates = {
      {"global", "--extent global"}, {"e4", "--extent 4"}, {"theta-e4", "--variant theta --extent 4"}};
  for (const auto& [name, gate] : gates) {
    SCOPED_TRACE(gate);
    const std::string flags = "train --data synthetic --input-size 16 --attention ge " + gate +
                              " --steps 3 --batch 32 --eval-limit 10 --threads 2 --augment off --out ";
    const auto fused = run(flags + dir.file("fused-" + name));
    ASSERT_EQ(fused.code, 0) << fused.err;
    const auto generic = test::run_gex(dir, flags + dir.file("generic-" + name), "GEX_FUSED_NODES=off");
    ASSERT_EQ(generic.code, 0) << generic.err;
    const std::string said = "the fused training nodes are off";
    EXPECT_NE((generic.out + generic.err).find(said), std::string::npos) << generic.out << generic.err;
    EXPECT_EQ((fused.out + fused.err).find(said), std::string::npos);
    const auto a = load_checkpoint(dir.file("fused-" + name) + "/checkpoints/last.safetensors");
    const auto b = load_checkpoint(dir.file("generic-" + name) + "/checkpoints/last.safetensors");
    auto other = b.net->named_parameters();
    double worst = 0, largest = 0;
    for (const auto& p : a.net->named_parameters()) {
      worst = std::max(worst, (p.value() - other[p.key()]).abs().max().item<double>());
      largest = std::max(largest, p.value().abs().max().item<double>());
    }
    EXPECT_LE(worst, 1e-2 * largest);
    // ... but not bit for bit: the generic graph did run (it sums in another order; seen: 1.2e-7).
    EXPECT_GT(worst, 0.0) << "the same weights to the bit: the fused nodes ran in both";
  }
}

}  // namespace
}  // namespace gex
