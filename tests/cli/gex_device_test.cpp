// Devices and CUDA graphs through `gex`, on a machine without a GPU (CI's): every request for one
// is refused with exit 2 before anything is written, and auto falls back to the CPU.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/cuda.h>

#include <filesystem>

#include "gex_process.h"
#include "seeded.h"
#include "temp_dir.h"

namespace gex {
namespace {

namespace fs = std::filesystem;

class Devices : public test::Seeded {
 protected:
  test::GexResult run(const std::string& args) { return test::run_gex(dir, args); }
  test::TempDir dir;
};

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
  EXPECT_NE(r.err.find("--cuda-graph on"), std::string::npos) << r.err;
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

}  // namespace
}  // namespace gex
