// Probes (DESIGN §6) through `gex train` and `gex probe` on Fashion-MNIST: each probe equals the
// standalone command on that step's kept checkpoint, probes never change training, and a killed
// run's timeline stays monotone when it resumes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <filesystem>
#include <map>

#include "analysis/probe.h"
#include "data/dataset.h"
#include "io/atomic_file.h"
#include "io/npy.h"
#include "io/safetensors.h"
#include "gex_process.h"
#include "photo_folder.h"
#include "seeded.h"
#include "temp_dir.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

#ifdef GEX_WITH_OPENCV
#include <opencv2/imgcodecs.hpp>
#endif

namespace gex {
namespace {

namespace fs = std::filesystem;


class Probes : public test::GexTest {
 protected:
  static std::vector<int64_t> steps_of(const std::string& run) {
    std::vector<int64_t> steps;
    for (const auto& r : read_probe_index(run)) steps.push_back(r.step);
    return steps;
  }
  static void expect_same_tensors(const std::string& a, const std::string& b) {
    const auto x = read_safetensors(a).tensors, y = read_safetensors(b).tensors;
    ASSERT_EQ(x.size(), y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      ASSERT_EQ(x[i].first, y[i].first);
      EXPECT_TRUE(torch::equal(x[i].second, y[i].second)) << a << " " << x[i].first;
    }
  }
  // The CSV's rows without its header.
  static std::string body(const std::string& csv) { return csv.substr(csv.find('\n') + 1); }
};

const char* const kTrain = "train --data fashion-mnist --attention ge --variant theta --extent 4 --seed 3 "
                           "--batch 32 --threads 1 --eval-limit 100 --log-every 10 ";
// The same network on small generated images: for what needs no real data, in a fraction of the time.
const char* const kQuick = "train --data synthetic --input-size 16 --attention ge --variant theta --extent 4 --seed 3 "
                           "--batch 32 --threads 1 --eval-limit 100 --log-every 10 ";

TEST_F(Probes, EachProbeEqualsTheStandaloneCommandsOnItsKeptCheckpoint) {
#ifndef GEX_WITH_OPENCV
  GTEST_SKIP() << "needs OpenCV to write the probe image";
#else
  cv::Mat photo(40, 30, CV_8UC3);
  cv::randu(photo, 0, 255);
  ASSERT_TRUE(cv::imwrite(dir.file("my shirt.png"), photo));
  const auto run_dir = dir.file("run");
  const auto r = run(std::string(kTrain) + "--steps 20 --probe-every 10 --probe-limit 300 --probe-prune layer3.2 "
                     "--probe-images '" + dir.file("my shirt.png") + "' --out " + run_dir + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto index = read_probe_index(run_dir);
  ASSERT_EQ(steps_of(run_dir), (std::vector<int64_t>{10, 20}));

  // The first test image of each class, found here from the labels, then the file.
  const Dataset data = load_dataset("fashion-mnist", {});
  std::map<int64_t, int64_t> first;
  for (int64_t i = 0; i < data.test.size(); ++i) first.emplace(data.test.labels[i].item<int64_t>(), i);
  ASSERT_EQ(first.size(), 10u);

  for (const auto& row : index) {
    SCOPED_TRACE(row.dir);
    EXPECT_NEAR(row.epoch, double(row.step) / 1875.0, 1e-9);  // 60000 / 32 steps an epoch
    ASSERT_TRUE(fs::exists(probe_checkpoint_path(run_dir, row.step)));
  }
  {
    const auto& row = index.back();  // the standalone commands on the last (one is enough, and they are slow)
    const fs::path probe = fs::path(run_dir) / "probes" / row.dir;
    const std::string ckpt = probe_checkpoint_path(run_dir, row.step);
    EXPECT_EQ(read_checkpoint_info(ckpt).step, row.step);

    // selectivity.csv is `gex selectivity --limit 300` on the checkpoint, byte for byte.
    ASSERT_EQ(run("selectivity --threads 1 --checkpoint " + ckpt + " --limit 300 --out " + dir.file("s.csv")).code, 0);
    EXPECT_EQ(read_file((probe / "selectivity.csv").string()), read_file(dir.file("s.csv")));

    // prune-layer3.2.csv is `gex prune` in csi-desc order, then in random order (one repeat, seed 0).
    const std::string prune = "prune --threads 1 --checkpoint " + ckpt + " --layer layer3.2 --limit 300 ";
    ASSERT_EQ(run(prune + "--order csi-desc --out " + dir.file("p1.csv")).code, 0);
    ASSERT_EQ(run(prune + "--order random --repeats 1 --seed 0 --out " + dir.file("p2.csv")).code, 0);
    EXPECT_EQ(read_file((probe / "prune-layer3.2.csv").string()),
              read_file(dir.file("p1.csv")) + body(read_file(dir.file("p2.csv"))));

    // top1_error is `gex eval --limit 300`'s.
    const auto eval = run("eval --threads 1 --checkpoint " + ckpt + " --limit 300 --json");
    ASSERT_EQ(eval.code, 0) << eval.err;
    EXPECT_NEAR(row.top1_error, eval.json()["top1_error"].get<double>(), 1e-9);

    // Inputs: each test image normalised with the checkpoint's statistics; gates: `gex forward`'s.
    const auto pre = read_checkpoint_info(ckpt).preprocess;
    const auto predictions = nlohmann::json::parse(read_file((probe / "predictions.json").string()));
    ASSERT_EQ(predictions["images"].size(), 11u);
    std::vector<torch::Tensor> inputs;
    for (const auto& [label, index_of] : first) {
      const auto& entry = predictions["images"][label];
      const std::string stem = entry["stem"];
      EXPECT_EQ(entry["file"], "test:" + std::to_string(index_of));
      EXPECT_EQ(entry["label"], data.class_names[label]);
      EXPECT_EQ(stem.rfind("test-" + std::string(5 - std::to_string(index_of).size(), '0') +
                                std::to_string(index_of) + "-", 0), 0u) << stem;
      inputs.push_back(read_npy((probe / "inputs" / (stem + ".npy")).string()));
      const auto pixels = data.test.images[index_of].to(torch::kFloat32) / 255.0;
      EXPECT_TRUE(torch::allclose(inputs.back()[0] * pre.std[0] + pre.mean[0], pixels, 0, 1e-5)) << stem;
    }
    // The ten inputs through `gex forward` in one batch: the same gates and top class (to float
    // rounding: a batch of ten may be summed in another order than ten of one).
    write_npy(dir.file("x.npy"), torch::cat(inputs));
    ASSERT_EQ(run("forward --threads 1 --checkpoint " + ckpt + " --input " + dir.file("x.npy") + " --out " +
                  dir.file("logits.npy") + " --gates " + dir.file("g")).code, 0);
    const auto probs = torch::softmax(read_npy(dir.file("logits.npy")), 1);
    for (int64_t k = 0; k < 10; ++k) {
      const auto& entry = predictions["images"][k];
      const std::string stem = entry["stem"];
      EXPECT_NEAR(entry["top5"][0]["probability"].get<double>(), probs[k].max().item<double>(), 1e-5) << stem;
      int gates = 0;
      for (const auto& e : fs::directory_iterator(probe / "gates" / stem)) {
        const auto standalone = read_npy(dir.file("g/" + e.path().filename().string()))[k];
        EXPECT_TRUE(torch::allclose(read_npy(e.path().string())[0], standalone, 0, 1e-5)) << e.path();
        ++gates;
      }
      EXPECT_EQ(gates, 9);  // one per block of ResNet-20
    }
    // The user's image: `gex gates` on the file gives the same input and gates.
    EXPECT_EQ(predictions["images"][10]["file"], dir.file("my shirt.png"));
    EXPECT_EQ(predictions["images"][10]["stem"], "my-shirt");
    ASSERT_EQ(run("gates --threads 1 --checkpoint " + ckpt + " --image '" + dir.file("my shirt.png") + "' --out " +
                  dir.file("gates-" + row.dir)).code, 0);
    const fs::path standalone = dir.file("gates-" + row.dir + "/my shirt");
    EXPECT_TRUE(torch::equal(read_npy((probe / "inputs" / "my-shirt.npy").string()),
                             read_npy((standalone / "input.npy").string())));
    for (const auto& e : fs::directory_iterator(probe / "gates" / "my-shirt"))
      EXPECT_TRUE(torch::equal(read_npy(e.path().string()),
                               read_npy((standalone / "gates" / e.path().filename()).string())))
          << e.path();
  }
  // The gates move as the network trains: the timeline is not one picture repeated.
  const auto g10 = read_npy(run_dir + "/probes/step-00000010/gates/my-shirt/layer2.0.attn.npy");
  const auto g20 = read_npy(run_dir + "/probes/step-00000020/gates/my-shirt/layer2.0.attn.npy");
  EXPECT_EQ(g20.sizes(), (std::vector<int64_t>{1, 32, 14, 14}));  // interpolated to the block's 14×14
  EXPECT_GT((g10 - g20).abs().max().item<float>(), 1e-4);
#endif
}

TEST_F(Probes, TrainingWithAndWithoutProbesGivesTheSameWeights) {
  const auto with = dir.file("with"), without = dir.file("without");
  ASSERT_EQ(run(std::string(kQuick) + "--steps 20 --probe-every 10 --probe-prune layer1.0 --probe-limit 50 --out " +
                with).code, 0);
  ASSERT_EQ(run(std::string(kQuick) + "--steps 20 --no-probes --out " + without).code, 0);
  EXPECT_EQ(steps_of(with), (std::vector<int64_t>{10, 20}));
  EXPECT_TRUE(fs::exists(with + "/probes/step-00000010/prune-layer1.0.csv"));
  EXPECT_FALSE(fs::exists(without + "/probes"));
  EXPECT_FALSE(fs::exists(probe_checkpoint_path(without, 20)));
  expect_same_tensors(with + "/checkpoints/last.safetensors", without + "/checkpoints/last.safetensors");
  const auto a = read_metrics(with + "/metrics.csv"), b = read_metrics(without + "/metrics.csv");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].loss, b[i].loss) << "row " << i;
}

TEST_F(Probes, AKilledRunResumesWithAMonotoneTimelineEqualToAStraightRun) {
  const std::string flags = std::string(kQuick) + "--steps 60 --probe-every 5 --checkpoint-every 20 --probe-limit 50 ";
  const auto straight = dir.file("straight"), killed = dir.file("killed");
  ASSERT_EQ(run(flags + "--out " + straight).code, 0);
  // SIGKILL once probes beyond the checkpoint at step 20 exist: they must go, and come back the same.
  const std::string cmd = std::string(GEX_BINARY) + " " + flags + "--out " + killed + " >/dev/null 2>&1 & pid=$!; "
                          "while [ ! -d " + killed + "/probes/step-00000030 ]; do sleep 0.02; done; kill -KILL $pid; "
                          "wait $pid; exit $?";
  const int status = std::system(("bash -c '" + cmd + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 137);
  const int64_t at = read_checkpoint_info(killed + "/checkpoints/last.safetensors").step;
  ASSERT_LT(at, 60) << "the run finished before the kill";
  ASSERT_GT(steps_of(killed).back(), at);

  const auto resumed = run("train --resume " + killed + " --json");
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  std::vector<int64_t> expected;
  for (int64_t s = 5; s <= 60; s += 5) expected.push_back(s);
  EXPECT_EQ(steps_of(killed), expected);
  for (const auto& e : fs::directory_iterator(killed + "/probes"))
    EXPECT_EQ(e.path().filename().string().rfind(".partial", 0), std::string::npos) << e.path();
  for (int64_t s : expected) {
    const std::string name = probe_dir_name(s);
    EXPECT_EQ(read_file(killed + "/probes/" + name + "/selectivity.csv"),
              read_file(straight + "/probes/" + name + "/selectivity.csv")) << name;
  }
  expect_same_tensors(probe_checkpoint_path(killed, 35), probe_checkpoint_path(straight, 35));
}

// A run killed while it probes the step of its last checkpoint (by default the end of an epoch,
// evaluated and checkpointed there; its disk full alike) records that probe when it resumes, as the
// standalone command measures that checkpoint; so does the last step of the schedule the checkpoint
// was written under when the resume lengthens it (a step the new schedule would not probe).
TEST_F(Probes, AProbeTheRunStoppedDuringIsRecordedWhenItResumes) {
  // 60 probe images: a probe long enough to be caught half-written.
  fs::create_directories(dir.file("many"));
  std::string pgm = "P5\n16 16\n255\n";
  pgm.resize(pgm.size() + 256, char(90));
  for (int i = 0; i < 60; ++i) dir.write("many/" + std::to_string(1000 + i) + ".pgm", pgm);
  const auto killed = dir.file("killed");
  const std::string first_epoch = probe_dir_name(63);  // its only epoch: 2000 images in batches of 32
  const std::string cmd = std::string(GEX_BINARY) + " " + kQuick + "--epochs 1 --probe-limit 50 --probe-images " +
                          dir.file("many") + " --out " + killed + " >/dev/null 2>&1 & pid=$!; while [ ! -d " + killed +
                          "/probes/.partial-" + first_epoch + " ]; do sleep 0.002; done; kill -KILL $pid; wait $pid";
  const int status = std::system(("bash -c '" + cmd + "'").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 137);
  ASSERT_EQ(read_checkpoint_info(killed + "/checkpoints/last.safetensors").step, 63);
  ASSERT_TRUE(steps_of(killed).empty()) << "the probe was written before the kill";
  const auto resumed = run("train --resume " + killed);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_NE(resumed.err.find("stopped before its probe at step 63 was written: it is probed now"), std::string::npos)
      << resumed.err;
  EXPECT_EQ(steps_of(killed), (std::vector<int64_t>{63}));
  ASSERT_EQ(run("selectivity --data synthetic --threads 1 --limit 50 --checkpoint " + probe_checkpoint_path(killed, 63) + " --out " +
                dir.file("s63.csv")).code, 0);
  EXPECT_EQ(read_file(killed + "/probes/" + first_epoch + "/selectivity.csv"), read_file(dir.file("s63.csv")));
  EXPECT_TRUE(fs::exists(killed + "/probes/" + first_epoch + "/gates/1059/layer3.2.attn.npy"));

  // Lengthened: the run's last step (25, a probe the new schedule of 40 steps every 10 would not
  // make) stopped half-written, as the kill above leaves it; equal to the uninterrupted run's.
  const auto straight = dir.file("straight"), cut = dir.file("cut");
  ASSERT_EQ(run(std::string(kQuick) + "--steps 25 --probe-every 10 --probe-limit 50 --out " + straight).code, 0);
  fs::copy(straight, cut, fs::copy_options::recursive);
  fs::rename(cut + "/probes/step-00000025", cut + "/probes/.partial-step-00000025");
  const auto index = read_file(cut + "/probes/index.csv");
  write_file_atomically(cut + "/probes/index.csv", {index.substr(0, index.find("\n25,") + 1)});  // up to step 25's row
  ASSERT_EQ(steps_of(cut), (std::vector<int64_t>{10, 20}));
  const auto longer = run("train --resume " + cut + " --steps 40");
  ASSERT_EQ(longer.code, 0) << longer.err;
  EXPECT_NE(longer.err.find("before its probe at step 25 was written"), std::string::npos) << longer.err;
  EXPECT_EQ(steps_of(cut), (std::vector<int64_t>{10, 20, 25, 30, 40}));
  EXPECT_FALSE(fs::exists(cut + "/probes/.partial-step-00000025"));
  const auto probe = [](const std::string& run_dir) { return run_dir + "/probes/step-00000025"; };
  EXPECT_EQ(read_file(probe(cut) + "/selectivity.csv"), read_file(probe(straight) + "/selectivity.csv"));
  int gates = 0;
  for (const auto& e : fs::recursive_directory_iterator(probe(straight) + "/gates")) {
    if (!e.is_regular_file()) continue;
    const auto rel = fs::relative(e.path(), probe(straight)).string();
    EXPECT_TRUE(torch::equal(read_npy(probe(cut) + "/" + rel), read_npy(e.path().string()))) << rel;
    ++gates;
  }
  EXPECT_GT(gates, 0);
}

TEST_F(Probes, GexProbeComputesTheProbesOfARunAfterwardsAndNeverRedoesOne) {
  const auto run_dir = dir.file("old");
  ASSERT_EQ(run(std::string(kTrain) + "--steps 20 --no-probes --keep-checkpoints all --checkpoint-every 10 "
                "--probe-limit 200 --out " + run_dir).code, 0);
  for (int64_t s : {10, 20}) EXPECT_TRUE(fs::exists(probe_checkpoint_path(run_dir, s))) << s;
  ASSERT_FALSE(fs::exists(run_dir + "/probes"));

  auto r = run("probe --threads 1 --run " + run_dir + " --every 20 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(steps_of(run_dir), (std::vector<int64_t>{20}));
  ASSERT_EQ(run("selectivity --threads 1 --checkpoint " + probe_checkpoint_path(run_dir, 20) + " --limit 200 --out " +
                dir.file("s.csv")).code, 0);
  EXPECT_EQ(read_file(run_dir + "/probes/step-00000020/selectivity.csv"), read_file(dir.file("s.csv")));
  EXPECT_EQ(r.json()["probes"][0]["images"], 200);
  // A test split smaller than the limit: the images the probe had are said, not the limit.
  const auto small = dir.file("small");
  ASSERT_EQ(run(std::string(kQuick) + "--steps 2 --no-probes --keep-checkpoints all --probe-limit 800 --out " + small)
                .code, 0);
  const auto few = run("probe --threads 1 --run " + small + " --json");
  ASSERT_EQ(few.code, 0) << few.err;
  ASSERT_EQ(few.json()["probes"].size(), 1u);
  EXPECT_EQ(few.json()["probes"][0]["images"], 500);  // the synthetic test split's
  EXPECT_NE(few.err.find("on 500 images"), std::string::npos) << few.err;

  const auto before = read_file(run_dir + "/probes/step-00000020/selectivity.csv");
  r = run("probe --threads 1 --run " + run_dir + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.json()["already_probed"], nlohmann::json({20}));
  EXPECT_EQ(r.json()["probes"].size(), 1u);
  EXPECT_EQ(steps_of(run_dir), (std::vector<int64_t>{10, 20}));  // in step order
  EXPECT_EQ(read_file(run_dir + "/probes/step-00000020/selectivity.csv"), before);
}

#ifdef GEX_WITH_OPENCV
// A run on a folder without val/ whose class folders were renamed since (a classes.txt naming them
// as before): its probes measure as `gex selectivity` does — on the files the run held out,
// labelled by class name — not by the folders' new order.
TEST_F(Probes, GexProbeOnAFolderRenamedSinceMeasuresAsGexSelectivity) {
  test::make_photo_folder(dir.path() / "photos");
  const std::string flat = dir.file("flat"), run_dir = dir.file("run");
  test::make_flat_photo_folders(dir.path() / "photos", flat);
  ASSERT_EQ(run("train --data folder:" + flat + " --steps 4 --batch 8 --seed 3 --threads 1 --no-probes "
                "--keep-checkpoints all --checkpoint-every 4 --out " + run_dir).code, 0);
  for (const auto& [from, to] : {std::pair{"a", "y"}, {"b", "z"}, {"c", "x"}}) fs::rename(fs::path(flat) / from, fs::path(flat) / to);
  dir.write("flat/classes.txt", "x c\ny a\nz b\n");  // folders x, y, z: classes c, a, b
  const auto r = run("probe --threads 1 --run " + run_dir);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(run_dir + " trained on other files than folder:" + flat +
                       " holds now (the same number of files under other names or classes): measured on the files there now\n"),
            std::string::npos)
      << r.err;
  ASSERT_EQ(run("selectivity --threads 1 --data folder:" + flat + " --checkpoint " + probe_checkpoint_path(run_dir, 4) +
                " --out " + dir.file("s.csv")).code, 0);
  EXPECT_EQ(read_file(run_dir + "/probes/step-00000004/selectivity.csv"), read_file(dir.file("s.csv")));
}
#endif

TEST_F(Probes, BadProbeSettingsAndFilesAreRefusedWithTheirExitCodes) {
  auto r = run(std::string(kQuick) + "--steps 2 --probe-prune layer9.9 --out " + dir.file("a"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("layer9.9"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("layer3.2"), std::string::npos) << r.err;  // the blocks it has
  r = run(std::string(kQuick) + "--steps 2 --probe-images " + dir.file("missing.png") + " --out " + dir.file("b"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("missing.png"), std::string::npos) << r.err;
  EXPECT_EQ(run(std::string(kQuick) + "--steps 2 --probe-every 0 --out " + dir.file("c")).code, 2);
  EXPECT_EQ(run(std::string(kQuick) + "--steps 2 --keep-checkpoints some --out " + dir.file("d")).code, 2);

  const auto run_dir = dir.file("e");
  ASSERT_EQ(run(std::string(kQuick) + "--steps 2 --probe-limit 50 --out " + run_dir).code, 0);
  // A block the network lacks, though every checkpoint is probed already: said, not passed over.
  r = run("probe --run " + run_dir + " --probe-prune layer9.9");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("no block 'layer9.9'"), std::string::npos) << r.err;
  write_file_atomically(run_dir + "/probes/index.csv", {std::string(kProbeIndexHeader) + "\n2,0.1,x,0.5,step-2\n"});
  r = run("probe --run " + run_dir);
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("index.csv: line 2"), std::string::npos) << r.err;
  EXPECT_EQ(run("probe --run " + dir.file("nowhere")).code, 3);
  // A folder that is not a run's (a study's, a photo folder) is said to be so, for --resume too.
  fs::create_directories(dir.file("photos"));
  r = run("probe --run " + dir.file("photos"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(dir.file("photos") + ": not a run directory (no run.json)"), std::string::npos) << r.err;
  r = run("train --resume " + dir.file("photos"));
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find(dir.file("photos") + ": not a run directory (no run.json)"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gex
