// `gex` end to end with what users bring: published weights (`gex import`, `train --init-from`,
// `--freeze-backbone`) and folders of photos streamed from disk. (The other commands: gex_cli_test.cpp.)
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

#include "io/atomic_file.h"
#include "io/npy.h"
#include "gex_process.h"
#include "photo_folder.h"
#include "same_weights.h"
#include "seeded.h"
#include "temp_dir.h"
#include "io/safetensors.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

namespace gex {
namespace {

using test::expect_same_weights;
namespace fs = std::filesystem;

class Pretrained : public test::GexTest {};

std::string import_fixture(const std::string& name) { return std::string(GEX_TEST_DATA) + "/import/" + name; }

TEST_F(Pretrained, ImportedTorchvisionResNet50ForwardsAsTorchvisionDoes) {
  const std::string ckpt = dir.file("r50.safetensors");
  const auto r = run("import --from " + import_fixture("resnet50-torchvision.pth") +
                     " --model resnet50 --input-size 64 --out " + ckpt + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto j = r.json();
  EXPECT_EQ(j["model"]["stride_on"], "3x3");
  EXPECT_EQ(j["loaded"].size(), 320u);  // every tensor of torchvision's resnet50().state_dict()
  EXPECT_TRUE(j["initialised"].empty());
  EXPECT_TRUE(j["ignored"].empty());
  EXPECT_EQ(j["reinitialised_head"], false);
  EXPECT_EQ(j["params"], 25557032);  // torchvision's ResNet-50
  const auto f = run("forward --checkpoint " + ckpt + " --input " + import_fixture("input.npy") + " --out " +
                     dir.file("logits.npy"));
  ASSERT_EQ(f.code, 0) << f.err;
  const auto ours = read_npy(dir.file("logits.npy"));
  const auto torchvision = read_npy(import_fixture("resnet50-logits.npy"));
  EXPECT_LT(((ours - torchvision).abs() / (torchvision.abs() + 1)).max().item<double>(), 1e-4);
  EXPECT_EQ(load_checkpoint(ckpt).info.model.stride_on, StrideOn::k3x3);  // recorded with the weights
  EXPECT_NE(run("import --from " + import_fixture("resnet50-torchvision.pth") + " --model resnet50 --input-size 64 --out " +
                dir.file("again.safetensors")).out.find("resnet50 (stride on 3×3)"),
            std::string::npos);
}

TEST_F(Pretrained, ImportRefusesWhatItCannotTrust) {
  const std::string marker = "/tmp/gex-hostile-pickle-ran";
  fs::remove(marker);
  const auto hostile = run("import --from " + import_fixture("hostile.pth") + " --model resnet18 --out " +
                           dir.file("h.safetensors"));
  EXPECT_EQ(hostile.code, 3);
  EXPECT_NE(hostile.err.find("posix.system"), std::string::npos) << hostile.err;
  EXPECT_FALSE(fs::exists(marker));
  EXPECT_FALSE(fs::exists(dir.file("h.safetensors")));
  const auto legacy = run("import --from " + import_fixture("legacy.pth") + " --model resnet18 --out " +
                          dir.file("l.safetensors"));
  EXPECT_EQ(legacy.code, 3);
  EXPECT_NE(legacy.err.find("legacy format"), std::string::npos) << legacy.err;
  EXPECT_EQ(run("import --from " + dir.file("none.pth") + " --model resnet18 --out " + dir.file("n.safetensors")).code, 3);
  // Another backbone's weights: exit 3 with the missing tensors listed.
  const auto wrong = run("import --from " + import_fixture("resnet18-torchvision.pth") + " --model resnet34 --out " +
                         dir.file("w.safetensors"));
  EXPECT_EQ(wrong.code, 3);
  EXPECT_NE(wrong.err.find("missing: layer1.2."), std::string::npos) << wrong.err;
  EXPECT_EQ(run("import --from " + import_fixture("resnet18-torchvision.pth") +
                " --model resnet18 --stride-on 3x3 --out " + dir.file("s.safetensors")).code, 2);
  // An existing --out is never overwritten.
  const std::string taken = dir.write("taken.safetensors", "mine");
  EXPECT_EQ(run("import --from " + import_fixture("resnet18-torchvision.pth") + " --model resnet18 --out " + taken).code, 2);
  EXPECT_EQ(read_file(taken), "mine");
}

TEST_F(Pretrained, FineTuningWithAFrozenBackboneLeavesItBitForBit) {
  const std::string imported = dir.file("r18.safetensors");
  const auto i = run("import --from " + import_fixture("resnet18-torchvision.pth") +
                     " --model resnet18 --classes 10 --input-size 32 --out " + imported + " --json");
  ASSERT_EQ(i.code, 0) << i.err;
  EXPECT_EQ(i.json()["reinitialised_head"], true);
  EXPECT_EQ(i.json()["ignored"], nlohmann::json({"fc.bias", "fc.weight"}));
  EXPECT_EQ(run("train --data synthetic --steps 1 --freeze-backbone --out " + dir.file("nope")).code, 2);
  const std::string run_dir = dir.file("finetune");
  const auto t = run("train --init-from " + imported + " --attention ge --variant theta-plus --extent 2 --data synthetic --no-probes "
                     "--in-channels 3 --steps 4 --batch 8 --eval-limit 16 --freeze-backbone --out " + run_dir);
  ASSERT_EQ(t.code, 0) << t.err;
  EXPECT_NE(t.err.find("started from " + imported), std::string::npos) << t.err;
  const auto recorded = nlohmann::json::parse(read_file(run_dir + "/run.json"));
  EXPECT_EQ(recorded["config"]["freeze_backbone"], true) << recorded.dump();
  EXPECT_EQ(recorded["config"]["init_from"], imported);
  EXPECT_EQ(recorded["config"]["model"]["backbone"], "resnet18");
  const auto before = load_checkpoint(imported);
  const auto after = load_checkpoint(run_dir + "/checkpoints/last.safetensors");
  std::map<std::string, torch::Tensor> trained;
  for (const auto& [name, t] : model_state(*after.net)) trained[name] = t;
  int backbone = 0, changed = 0;
  for (const auto& [name, t] : model_state(*before.net)) {
    if (name.rfind("fc.", 0) == 0) {
      changed += !torch::equal(trained.at(name), t);
      continue;
    }
    ++backbone;
    EXPECT_TRUE(torch::equal(trained.at(name), t)) << name << " changed under --freeze-backbone";
  }
  EXPECT_EQ(backbone, 120);
  EXPECT_EQ(changed, 2);  // the head trained
  // A checkpoint of ours imports too (its optimiser state left out), here with GE added to it.
  const auto again = run("import --from " + run_dir + "/checkpoints/last.safetensors --model resnet18 --attention se --out " +
                         dir.file("se.safetensors") + " --json");
  ASSERT_EQ(again.code, 3) << again.err;  // the run's GE modules do not fit an SE model: listed
  EXPECT_NE(again.err.find("unexpected: layer1.0.attn."), std::string::npos) << again.err;
  const auto plain = run("import --from " + imported + " --model resnet18 --attention ge --json --out " + dir.file("ge.safetensors"));
  ASSERT_EQ(plain.code, 0) << plain.err;
  // And without --freeze-backbone the backbone moves (the comparison above can fail).
  const auto free_run = run("train --init-from " + imported + " --data synthetic --in-channels 3 --steps 2 --batch 8 --no-probes "
                            "--eval-limit 16 --out " + dir.file("free"));
  ASSERT_EQ(free_run.code, 0) << free_run.err;
  const auto moved = load_checkpoint(dir.file("free") + "/checkpoints/last.safetensors");
  EXPECT_FALSE(torch::equal(model_state(*moved.net).front().second, model_state(*before.net).front().second));
  // The GE-θ⁺ run fine-tuned again without naming its attention stays GE-θ⁺ (every tensor used);
  // --attention none makes a baseline of its backbone, the modules' tensors said to be unused.
  const std::string fine_tuned = run_dir + "/checkpoints/last.safetensors";
  const std::string again_flags = " --data synthetic --in-channels 3 --steps 1 --batch 8 --eval-limit 8 --no-probes --out ";
  const auto same = run("train --init-from " + fine_tuned + again_flags + dir.file("again"));
  ASSERT_EQ(same.code, 0) << same.err;
  const auto model = nlohmann::json::parse(read_file(dir.file("again") + "/run.json"))["config"]["model"];
  EXPECT_EQ(model["attention"], "ge") << model.dump();
  EXPECT_EQ(model["variant"], "theta-plus");
  EXPECT_EQ(model["extent"], 2);
  EXPECT_EQ(same.err.find("not used"), std::string::npos) << same.err;
  const auto baseline = run("train --init-from " + fine_tuned + " --attention none" + again_flags + dir.file("plain"));
  ASSERT_EQ(baseline.code, 0) << baseline.err;
  EXPECT_EQ(nlohmann::json::parse(read_file(dir.file("plain") + "/run.json"))["config"]["model"]["attention"], "none");
  EXPECT_NE(baseline.err.find("of its tensors not used"), std::string::npos) << baseline.err;
}

#ifdef GEX_WITH_OPENCV
using test::make_photo_folder;

TEST_F(Pretrained, AFolderStreamedFromDiskTrainsAsFromMemoryResumesExactlyAndSkipsACorruptJpeg) {
  make_photo_folder(dir.path() / "photos");
  const std::string common = "train --model resnet20 --data folder:" + dir.file("photos") +
                             " --batch 8 --threads 1 --seed 3 --schedule constant --lr 0.05 --log-every 1 --no-probes ";
  // 32 px (the CIFAR recipe): in memory by default, streamed with --cache-mb 0; the same batches.
  const auto memory = run(common + "--steps 6 --out " + dir.file("memory"));
  ASSERT_EQ(memory.code, 0) << memory.err;
  const auto streamed = run(common + "--steps 6 --cache-mb 0 --loader-threads 2 --out " + dir.file("streamed"));
  ASSERT_EQ(streamed.code, 0) << streamed.err;
  expect_same_weights(dir.file("memory"), dir.file("streamed"));
  EXPECT_EQ(nlohmann::json::parse(read_file(dir.file("streamed") + "/run.json"))["config"]["cache_mb"], 0);
  EXPECT_FALSE(nlohmann::json::parse(read_file(dir.file("memory") + "/run.json")).contains("skipped_files"));

  // A corrupt JPEG: named, left out, counted, in memory and streamed.
  const std::string broken = dir.file("photos") + "/train/a/zz-broken.jpg";
  write_file_atomically(broken, {"\xff\xd8\xff\xe0 cut short"});
  for (const char* cache : {"512", "0"}) {
    const auto r = run(common + "--steps 6 --cache-mb " + cache + " --out " + dir.file(std::string("broken") + cache));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("zz-broken.jpg"), std::string::npos) << r.err;
    const auto j = nlohmann::json::parse(read_file(dir.file(std::string("broken") + cache) + "/run.json"));
    EXPECT_EQ(j.value("skipped_files", 0), 1) << cache;
    EXPECT_EQ(j["skipped_examples"][0], broken) << cache;
  }
  // Left out of its batch either way: an epoch is the same whatever the cache.
  expect_same_weights(dir.file("broken512"), dir.file("broken0"));

  // 64 px (the photo recipe, crops drawn per sample; the corrupt file still there): a run from the
  // files without a cache equals one cached in memory, stopped after 6 steps (mid-epoch) and
  // resumed to 12.
  const auto straight = run(common + "--input-size 64 --steps 12 --cache-mb 0 --out " + dir.file("straight"));
  ASSERT_EQ(straight.code, 0) << straight.err;
  const auto first = run(common + "--input-size 64 --steps 6 --out " + dir.file("resumed"));
  ASSERT_EQ(first.code, 0) << first.err;
  const auto rest = run("train --resume " + dir.file("resumed") + " --steps 12 --json");
  ASSERT_EQ(rest.code, 0) << rest.err;
  EXPECT_EQ(rest.json()["step"], 12);
  expect_same_weights(dir.file("straight"), dir.file("resumed"));
  // Augmentation changes what the network sees: without it the weights differ.
  const auto plain = run(common + "--input-size 64 --steps 12 --augment off --out " + dir.file("plain"));
  ASSERT_EQ(plain.code, 0) << plain.err;
  const auto x = read_safetensors(dir.file("straight") + "/checkpoints/last.safetensors").tensors;
  const auto y = read_safetensors(dir.file("plain") + "/checkpoints/last.safetensors").tensors;
  EXPECT_FALSE(torch::equal(x.front().second, y.front().second));
  // Evaluation on the folder through gex eval (streamed) agrees with the run's own last evaluation.
  const auto e = run("eval --checkpoint " + dir.file("straight") + "/checkpoints/last.safetensors --data folder:" +
                     dir.file("photos") + " --cache-mb 0 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_EQ(e.json()["images"], 6);
  double last_val = -1;
  for (const auto& row : read_metrics(dir.file("straight") + "/metrics.csv"))
    if (row.split == "val") last_val = row.top1_error;
  EXPECT_NEAR(e.json()["top1_error"].get<double>(), last_val, 1e-6);
  // Selectivity streams the folder too: every readable image of the split, whatever the cache.
  for (const char* cache : {"0", "512"}) {
    const auto s = run("selectivity --checkpoint " + dir.file("straight") + "/checkpoints/last.safetensors --data folder:" +
                       dir.file("photos") + " --split train --cache-mb " + cache + " --out " +
                       dir.file(std::string("sel") + cache + ".csv") + " --json");
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_EQ(s.json()["images"], 24) << cache;  // 25 files, one corrupt
    EXPECT_NE(s.err.find("zz-broken.jpg"), std::string::npos) << s.err;
  }
  // Measuring the test split of a folder that fits in memory decodes that split alone: the corrupt
  // training file is neither read nor named.
  const auto test_split = run("eval --checkpoint " + dir.file("broken512") + "/checkpoints/last.safetensors --data folder:" +
                              dir.file("photos") + " --json");
  ASSERT_EQ(test_split.code, 0) << test_split.err;
  EXPECT_EQ(test_split.json()["images"], 6);
  EXPECT_EQ(test_split.err.find("zz-broken.jpg"), std::string::npos) << test_split.err;
}

// A folder whose files changed between two sessions of a run: said when it resumes (it cannot be
// the run an uninterrupted one would have been), and run.json records the files it goes on with;
// the same files as last time, nothing said.
TEST_F(Pretrained, ARunResumedOnAFolderThatChangedSaysSo) {
  make_photo_folder(dir.path() / "photos");
  const std::string data = "folder:" + dir.file("photos"), run_dir = dir.file("run");
  ASSERT_EQ(run("train --data " + data + " --batch 8 --threads 1 --steps 2 --no-probes --out " + run_dir).code, 0);
  const auto recorded = [&] { return nlohmann::json::parse(read_file(run_dir + "/run.json"))["data_files"]; };
  EXPECT_EQ(recorded()["train"], 24);
  EXPECT_EQ(recorded()["test"], 6);
  EXPECT_EQ(recorded()["digest"].get<std::string>().size(), 16u);
  const auto same = run("train --resume " + run_dir + " --steps 3");
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_EQ(same.err.find("changed"), std::string::npos) << same.err;
  fs::copy_file(dir.path() / "photos/train/a/p0.jpg", dir.path() / "photos/train/a/p9.jpg");
  const auto more = run("train --resume " + run_dir + " --steps 4");
  ASSERT_EQ(more.code, 0) << more.err;
  EXPECT_NE(more.err.find(data + " changed since the run last trained on it (24 training files then, 25 now)"),
            std::string::npos) << more.err;
  EXPECT_EQ(recorded()["train"], 25);
  const auto again = run("train --resume " + run_dir + " --steps 5");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.err.find("changed"), std::string::npos) << again.err;
}

// A run whose data folder moved (or that was started from another directory with a relative
// path): resuming says where it looked and how to go on; `--data` names the new place, and with
// the same files there the run is bitwise the uninterrupted one. Another kind of data is refused.
TEST_F(Pretrained, ARunWhoseDataMovedResumesWithDataNamingItsNewPlace) {
  make_photo_folder(dir.path() / "photos");
  const std::string common = " --batch 8 --threads 1 --no-probes --seed 2 --schedule constant";
  ASSERT_EQ(run("train --data folder:" + dir.file("photos") + common + " --steps 6 --out " + dir.file("whole")).code, 0);
  ASSERT_EQ(run("train --data folder:" + dir.file("photos") + common + " --steps 3 --out " + dir.file("moved")).code, 0);
  fs::rename(dir.path() / "photos", dir.path() / "elsewhere");
  const auto lost = run("train --resume " + dir.file("moved") + " --steps 6");
  EXPECT_EQ(lost.code, 3);
  EXPECT_NE(lost.err.find(dir.file("photos") + ": no such directory: the run's data (folder:" + dir.file("photos") +
                          ") is not there; if it moved, resume with --data naming its new place"),
            std::string::npos) << lost.err;
  EXPECT_EQ(run("train --resume " + dir.file("moved") + " --steps 6 --data synthetic").code, 2);
  EXPECT_EQ(run("train --resume " + dir.file("moved") + " --steps 6 --data folder:" + dir.file("elsewhere") +
                " --batch 4").code, 2) << "only the place may change";
  const auto found = run("train --resume " + dir.file("moved") + " --steps 6 --data folder:" + dir.file("elsewhere"));
  ASSERT_EQ(found.code, 0) << found.err;
  EXPECT_EQ(found.err.find("changed"), std::string::npos) << found.err;
  EXPECT_EQ(RunDirectory::open(dir.file("moved")).config().data, "folder:" + dir.file("elsewhere"));
  expect_same_weights(dir.file("whole"), dir.file("moved"));  // their last checkpoints
}

// gex eval on a folder without val/ measures a checkpoint on the files its run held out (drawn with
// the run's seed; with seed 0 it measured a run of another seed on its own training images), also
// when the class folders were renamed since; a folder holding the checkpoint's classes in another
// order is labelled by class name. Expected figures: the run's own last evaluation, and the same
// files under their first names.
TEST_F(Pretrained, ACheckpointIsMeasuredOnItsRunsHeldOutFilesAndByClassName) {
  make_photo_folder(dir.path() / "photos");
  const fs::path flat = dir.path() / "flat", flat_renamed = dir.path() / "flat-renamed", renamed = dir.path() / "renamed";
  test::make_flat_photo_folders(dir.path() / "photos", flat, flat_renamed);
  for (const char* split : {"train", "val"})
    for (const auto& [cls, to] : std::map<std::string, std::string>{{"a", "y"}, {"b", "z"}, {"c", "x"}}) {
      fs::create_directories(renamed / split / to);
      for (const auto& e : fs::directory_iterator(dir.path() / "photos" / split / cls))
        fs::copy_file(e.path(), renamed / split / to / e.path().filename());
    }
  dir.write("renamed/classes.txt", "x c\ny a\nz b\n");  // sorted folders x, y, z: classes c, a, b
  dir.write("flat-renamed/classes.txt", "x c\ny a\nz b\n");
  const std::string common = " --model resnet20 --batch 8 --threads 1 --steps 6 --lr 0.05 --log-every 1 --no-probes";
  const auto trained = run("train --data folder:" + flat.string() + " --seed 7" + common + " --out " + dir.file("seven"));
  ASSERT_EQ(trained.code, 0) << trained.err;
  double val_loss = -1;
  for (const auto& row : read_metrics(dir.file("seven") + "/metrics.csv"))
    if (row.split == "val") val_loss = row.loss;
  const std::string seven = dir.file("seven") + "/checkpoints/last.safetensors";
  const auto held_out = run("eval --checkpoint " + seven + " --data folder:" + flat.string() + " --json");
  ASSERT_EQ(held_out.code, 0) << held_out.err;
  EXPECT_EQ(held_out.json()["images"], 3);  // one of each class's ten
  EXPECT_NEAR(held_out.json()["loss"].get<double>(), val_loss, 1e-5 * std::max(1.0, val_loss));
  // Folders renamed since (classes.txt names them): the files held out are drawn class by class in
  // the model's order, as the run drew them, not in the new folders' order.
  const auto renamed_since = run("eval --checkpoint " + seven + " --data folder:" + flat_renamed.string() + " --json");
  ASSERT_EQ(renamed_since.code, 0) << renamed_since.err;
  EXPECT_NE(renamed_since.err.find("images labelled by class name"), std::string::npos) << renamed_since.err;
  EXPECT_EQ(renamed_since.json()["images"], 3);
  EXPECT_NEAR(renamed_since.json()["loss"].get<double>(), val_loss, 1e-5 * std::max(1.0, val_loss));

  const auto first = run("train --data folder:" + dir.file("photos") + common + " --out " + dir.file("abc"));
  ASSERT_EQ(first.code, 0) << first.err;
  const std::string abc = dir.file("abc") + "/checkpoints/last.safetensors";
  const auto by_first_names = run("eval --checkpoint " + abc + " --data folder:" + dir.file("photos") + " --json");
  const auto by_new_names = run("eval --checkpoint " + abc + " --data folder:" + renamed.string() + " --json");
  ASSERT_EQ(by_new_names.code, 0) << by_new_names.err;
  EXPECT_NE(by_new_names.err.find("another order: images labelled by class name"), std::string::npos) << by_new_names.err;
  EXPECT_EQ(by_new_names.json()["images"], by_first_names.json()["images"]);
  EXPECT_NEAR(by_new_names.json()["loss"].get<double>(), by_first_names.json()["loss"].get<double>(), 1e-9);
  // Other names than the model's: labels by the folders' order, said.
  dir.write("renamed/classes.txt", "x cat\ny dog\nz eel\n");
  const auto other = run("eval --checkpoint " + abc + " --data folder:" + renamed.string());
  ASSERT_EQ(other.code, 0) << other.err;
  EXPECT_NE(other.err.find("3 class name(s) are not the model's ('cat' for 'a'"), std::string::npos) << other.err;
  // Synonyms after the model's own names (ImageNet's mapping file against torchvision's names): the
  // same classes in the same order, nothing to say.
  dir.write("renamed/classes.txt", "x a, alpha\ny b, bravo\nz c, charlie\n");
  const auto synonyms = run("eval --checkpoint " + abc + " --data folder:" + renamed.string());
  ASSERT_EQ(synonyms.code, 0) << synonyms.err;
  EXPECT_EQ(synonyms.err.find("class name"), std::string::npos) << synonyms.err;
}
#endif

}  // namespace
}  // namespace gex
