// gex study --analyses as a user runs it: each variant's runs pooled from their best checkpoints'
// analyses, kept in each run's analyses/ where the views read them, or from their probes at one
// step; runs measured on the files they held out; the shipped analyses recomputed. Each figure
// checked against gex selectivity and gex prune on the run's checkpoint, pooled here.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <numeric>

#include "gex_process.h"
#include "photo_folder.h"
#include "same_weights.h"
#include "study_settings.h"
#include "io/atomic_file.h"
#include "temp_dir.h"
#include "train/checkpoint.h"

namespace gex {
namespace {

namespace fs = std::filesystem;
using test::csv_rows;
using test::kStudy;

class StudyAnalyses : public test::GexTest {};

// Where a run's analyses of its best checkpoint are kept: RUN/analyses/best-step-S.
std::string kept_analyses(const std::string& run_dir) {
  return run_dir + "/analyses/best-step-" + std::to_string(read_checkpoint_info(run_dir + "/checkpoints/best.safetensors").step);
}

// gex study --analyses: each variant's runs pooled as the views pool a checked group, from files
// written into each run's analyses/ under the views' names — the very numbers gex selectivity and
// gex prune give for the run's best checkpoint — and read, not computed, when asked again.
TEST_F(StudyAnalyses, TheAnalysesPoolEachVariantsRunsAndAreKeptWhereTheViewsReadThem) {
  fs::create_directories(dir.file("begun"));  // a study whose first run has not finished
  write_file_atomically(dir.file("begun/study.csv"),
                        {"variant,seed,params,macs,best_top1_error,final_top1_error,images_per_second,run\n"});
  const auto begun = run("study --analyses " + dir.file("begun"));
  EXPECT_EQ(begun.code, 0) << begun.err;
  EXPECT_NE(begun.out.find("no finished run yet"), std::string::npos) << begun.out;
  const auto out = dir.file("study");
  ASSERT_EQ(run(kStudy + "--out " + out).code, 0);
  const std::string ask = "study --analyses " + out + " --limit 200 --layer layer3 --order csi-desc,random --repeats 2 --threads 1 --json";
  const auto r = run(ask);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto json = r.json();
  EXPECT_EQ(json["computed"].size(), 4u * 3u) << "a selectivity and two curves per run";
  const std::vector<std::string> variants = {"baseline", "theta-minus"};
  ASSERT_EQ(json["selectivity"].size(), 2u);
  ASSERT_EQ(json["pruning"].size(), 4u) << "two orders × two variants";
  for (size_t v = 0; v < variants.size(); ++v) {
    const auto& sel = json["selectivity"][v];
    EXPECT_EQ(sel["variant"], variants[v]);
    EXPECT_EQ(sel["runs"], 2);
    // The standalone commands on each run's best checkpoint, and the pooling worked out here.
    std::map<std::string, std::vector<double>> csi;
    std::map<std::string, std::map<double, std::vector<double>>> curves;  // order → ratio → per run
    for (const char* seed : {"seed-1", "seed-2"}) {
      const std::string run_dir = out + "/" + variants[v] + "/" + seed;
      const std::string best = run_dir + "/checkpoints/best.safetensors";
      const std::string mine = dir.file(variants[v] + seed + ".csv");
      ASSERT_EQ(run("selectivity --data synthetic --limit 200 --threads 1 --checkpoint " + best + " --out " + mine).code, 0);
      const auto cached = csv_rows(kept_analyses(run_dir) + "/selectivity-test-200.csv"), fresh = csv_rows(mine);
      ASSERT_EQ(cached.size(), fresh.size());
      for (size_t i = 0; i < fresh.size(); ++i) {
        EXPECT_EQ(cached[i][0], fresh[i][0]);
        EXPECT_NEAR(std::stod(cached[i][2]), std::stod(fresh[i][2]), 1e-6);
        csi[fresh[i][0]].push_back(std::stod(fresh[i][2]));
      }
      for (const char* order : {"csi-desc", "random"}) {
        const std::string curve = dir.file(variants[v] + seed + order + ".csv");
        ASSERT_EQ(run("prune --data synthetic --limit 200 --threads 1 --stage 3 --repeats 2 --order " + std::string(order) +
                      " --checkpoint " + best + " --out " + curve).code, 0);
        const auto cached_curve = csv_rows(kept_analyses(run_dir) + "/pruning-layer3-" + order + "-test-200.csv");
        const auto fresh_curve = csv_rows(curve);
        ASSERT_EQ(cached_curve.size(), fresh_curve.size());
        std::map<double, std::pair<double, int>> by_ratio;
        for (size_t i = 0; i < fresh_curve.size(); ++i) {
          EXPECT_NEAR(std::stod(cached_curve[i][4]), std::stod(fresh_curve[i][4]), 1e-9) << order << " row " << i;
          auto& [sum, n] = by_ratio[std::stod(fresh_curve[i][2])];
          sum += std::stod(fresh_curve[i][4]), ++n;
        }
        for (const auto& [ratio, sum] : by_ratio) curves[order][ratio].push_back(sum.first / sum.second);
      }
    }
    ASSERT_EQ(sel["blocks"].size(), 3u * 3u) << "ResNet-20's nine blocks";
    for (const auto& block : sel["blocks"]) {
      auto values = csi.at(block["block"]);
      std::sort(values.begin(), values.end());
      EXPECT_EQ(block["units"], values.size());
      const size_t n = values.size();
      const double median = n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
      EXPECT_NEAR(block["median"].get<double>(), median, 1e-12) << block["block"];
    }
    for (const auto& curve : json["pruning"]) {
      if (curve["variant"] != variants[v]) continue;
      EXPECT_EQ(curve["block"], "layer3");
      const auto& expected = curves.at(curve["order"]);
      ASSERT_EQ(curve["top1_error"].size(), 11u);
      for (const auto& point : curve["top1_error"]) {
        const auto& runs = expected.at(point["ratio"].get<double>());
        EXPECT_NEAR(point["mean"].get<double>(), (runs[0] + runs[1]) / 2, 1e-12);
        EXPECT_NEAR(point["min"].get<double>(), std::min(runs[0], runs[1]), 1e-12);
        EXPECT_NEAR(point["max"].get<double>(), std::max(runs[0], runs[1]), 1e-12);
      }
    }
  }
  // Asked again: read from analyses/, nothing computed or rewritten.
  const std::string cached = kept_analyses(out + "/baseline/seed-1") + "/selectivity-test-200.csv";
  const auto written = fs::last_write_time(cached);
  const auto again = run(ask);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_TRUE(again.json()["computed"].empty());
  EXPECT_EQ(again.json()["selectivity"], json["selectivity"]);
  EXPECT_EQ(fs::last_write_time(cached), written);
  // For people: a table of blocks × variants.
  const auto table = run("study --analyses " + out + " --limit 200 --threads 1");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("baseline (2)"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("layer3.2"), std::string::npos) << table.out;
  // A block the network lacks is said before anything is measured (at a limit not measured yet).
  const auto no_block = run("study --analyses " + out + " --limit 150 --layer layer9 --threads 1");
  EXPECT_EQ(no_block.code, 2);
  EXPECT_NE(no_block.err.find("has no block or stage layer9 (blocks: layer1.0, "), std::string::npos) << no_block.err;
  EXPECT_EQ(no_block.err.find("computing"), std::string::npos) << no_block.err;
  EXPECT_EQ(run("study --analyses " + out + " --layer layer3 --order best-first").code, 2);
  EXPECT_EQ(run("study --summary " + out + " --limit 200").code, 2) << "--limit goes with --analyses";
  const auto unprobed = run("study --analyses " + out + " --step 10");
  EXPECT_EQ(unprobed.code, 2);
  EXPECT_NE(unprobed.err.find("have no probes"), std::string::npos) << unprobed.err;
  // A cached file that is not one is named, with its line.
  write_file_atomically(cached, {"layer,unit,csi,max_class,mean_activation\nlayer1.0,0,x,1,0.5\n"});
  const auto broken = run("study --analyses " + out + " --limit 200 --threads 1");
  EXPECT_EQ(broken.code, 3);
  EXPECT_NE(broken.err.find(cached + ":2"), std::string::npos) << broken.err;
}

// gex study --analyses --step: each variant's runs pooled at one step of training from their probes
// there, as the views' timeline pools a group — read as recorded, nothing computed; a run not probed
// at the step (or whose probe lacks the curve) left out and named.
TEST_F(StudyAnalyses, TheProbesOfOneStepArePooledAndRunsNotProbedThereAreLeftOut) {
  const auto out = dir.file("probed");
  std::string settings = kStudy;
  settings.replace(settings.find("--no-probes"), 11, "--probe-every 15 --probe-limit 100 --probe-prune layer3.2");
  ASSERT_EQ(run(settings + "--out " + out).code, 0);
  const auto probe = [&](const std::string& run, int step, const std::string& file) {
    return out + "/" + run + "/probes/step-000000" + std::to_string(step) + "/" + file;
  };
  // baseline/seed-2 as if it had not been probed at step 15; theta-minus/seed-1's step-30 probe without its curve.
  const std::string index = out + "/baseline/seed-2/probes/index.csv";
  std::string kept;
  std::istringstream lines(read_file(index));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("15,", 0) != 0) kept += line + "\n";
  write_file_atomically(index, {kept});
  fs::remove(probe("theta-minus/seed-1", 30, "prune-layer3.2.csv"));

  struct Expected {
    std::vector<std::string> selectivity_runs, curve_runs;
  };
  for (const auto& [step, expected] : std::vector<std::pair<int, std::map<std::string, Expected>>>{
           {15, {{"baseline", {{"seed-1"}, {"seed-1"}}}, {"theta-minus", {{"seed-1", "seed-2"}, {"seed-1", "seed-2"}}}}},
           {30, {{"baseline", {{"seed-1", "seed-2"}, {"seed-1", "seed-2"}}}, {"theta-minus", {{"seed-1", "seed-2"}, {"seed-2"}}}}}}) {
    const auto r = run("study --analyses " + out + " --step " + std::to_string(step) + " --layer layer3.2 --json");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto json = r.json();
    EXPECT_TRUE(json["computed"].empty());
    EXPECT_EQ(json["limit"], 100);
    EXPECT_EQ(json["step"], step);
    const std::string gone = step == 15 ? "baseline/seed-2" : "theta-minus/seed-1";
    ASSERT_EQ(json["left_out"].size(), 1u) << json["left_out"];
    EXPECT_EQ(json["left_out"][0], out + "/" + gone);
    EXPECT_NE(r.err.find(out + "/" + gone), std::string::npos) << r.err;
    for (const auto& sel : json["selectivity"]) {
      const Expected& e = expected.at(sel["variant"]);
      EXPECT_EQ(sel["runs"], e.selectivity_runs.size());
      std::map<std::string, std::vector<double>> csi;  // the probes' files pooled here
      for (const auto& seed : e.selectivity_runs)
        for (const auto& row : csv_rows(probe(sel["variant"].get<std::string>() + "/" + seed, step, "selectivity.csv")))
          csi[row[0]].push_back(std::stod(row[2]));
      ASSERT_EQ(sel["blocks"].size(), csi.size());
      for (const auto& block : sel["blocks"]) {
        auto values = csi.at(block["block"]);
        std::sort(values.begin(), values.end());
        const size_t n = values.size();
        EXPECT_EQ(block["units"], n);
        EXPECT_NEAR(block["median"].get<double>(), n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2, 1e-12);
      }
    }
    ASSERT_EQ(json["pruning"].size(), 4u) << "two orders × two variants";
    for (const auto& curve : json["pruning"]) {
      const Expected& e = expected.at(curve["variant"]);
      EXPECT_EQ(curve["runs"], e.curve_runs.size());
      std::map<double, std::vector<double>> errors;  // ratio → one per run, from the probes' files
      for (const auto& seed : e.curve_runs)
        for (const auto& row : csv_rows(probe(curve["variant"].get<std::string>() + "/" + seed, step, "prune-layer3.2.csv")))
          if (row[1] == curve["order"]) errors[std::stod(row[2])].push_back(std::stod(row[4]));
      ASSERT_EQ(curve["top1_error"].size(), 11u);
      for (const auto& point : curve["top1_error"]) {
        const auto& runs = errors.at(point["ratio"].get<double>());
        ASSERT_EQ(runs.size(), e.curve_runs.size()) << "one random order per probe";
        EXPECT_NEAR(point["mean"].get<double>(), std::accumulate(runs.begin(), runs.end(), 0.0) / runs.size(), 1e-12);
        EXPECT_NEAR(point["min"].get<double>(), *std::min_element(runs.begin(), runs.end()), 1e-12);
        EXPECT_NEAR(point["max"].get<double>(), *std::max_element(runs.begin(), runs.end()), 1e-12);
      }
    }
  }
  for (const char* run : {"baseline/seed-1", "theta-minus/seed-2"})
    EXPECT_TRUE(fs::is_empty(out + "/" + run + "/analyses")) << "nothing computed or cached";
  // For people, and what cannot be pooled: a step or a block not probed, flags the probes fixed.
  const auto table = run("study --analyses " + out + " --step 15");
  ASSERT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("probes at step 15"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("baseline (1)"), std::string::npos) << table.out;
  const auto elsewhere = run("study --analyses " + out + " --step 16");
  EXPECT_EQ(elsewhere.code, 2);
  EXPECT_NE(elsewhere.err.find("probed steps: 15, 30"), std::string::npos) << elsewhere.err;
  const auto block = run("study --analyses " + out + " --step 15 --layer layer3.1");
  EXPECT_EQ(block.code, 2);
  EXPECT_NE(block.err.find("they hold layer3.2"), std::string::npos) << block.err;
  EXPECT_EQ(run("study --analyses " + out + " --step 15 --limit 50").code, 2);
  EXPECT_EQ(run("study --analyses " + out + " --step 15 --repeats 2").code, 2);
  fs::remove_all(out + "/theta-minus/seed-2");  // a run the table lists, gone
  const auto gone = run("study --analyses " + out + " --step 15");
  EXPECT_EQ(gone.code, 3);
  EXPECT_NE(gone.err.find(out + "/theta-minus/seed-2: no such run directory"), std::string::npos) << gone.err;
}

// A study trained on after its analyses were measured has new best checkpoints: their analyses
// are measured anew (kept beside the earlier best's), never the earlier best's shown for them.
TEST_F(StudyAnalyses, ARunTrainedOnToANewBestIsMeasuredAnew) {
  const auto out = dir.file("longer");
  const std::string study = "study --data synthetic --input-size 16 --batch 32 --threads 1 --eval-every 10 "
                            "--eval-limit 100 --no-probes --variants baseline --seeds 1 --out " + out;
  const std::string run_dir = out + "/baseline/seed-1", best = run_dir + "/checkpoints/best.safetensors";
  const std::string ask = "study --analyses " + out + " --limit 200 --threads 1 --json";
  ASSERT_EQ(run(study + " --steps 10").code, 0);
  const auto before = run(ask);
  ASSERT_EQ(before.code, 0) << before.err;
  ASSERT_EQ(before.json()["computed"].size(), 1u);
  const std::string earlier = kept_analyses(run_dir);
  ASSERT_EQ(run(study + " --steps 60").code, 0);  // the same study, longer: its run resumes
  ASSERT_NE(kept_analyses(run_dir), earlier) << "the run must have a newer best for this test to mean anything";
  const auto after = run(ask);
  ASSERT_EQ(after.code, 0) << after.err;
  ASSERT_EQ(after.json()["computed"].size(), 1u) << "the newer best's selectivity is measured";
  EXPECT_EQ(after.json()["computed"][0], kept_analyses(run_dir) + "/selectivity-test-200.csv");
  EXPECT_TRUE(fs::exists(earlier + "/selectivity-test-200.csv")) << "the earlier one is kept";
  ASSERT_EQ(run("selectivity --data synthetic --limit 200 --threads 1 --checkpoint " + best + " --out " + dir.file("now.csv")).code, 0);
  double sum_now = 0, sum_pooled = 0;  // the last block's CSIs: the checkpoint's now, and what the study pooled
  for (const auto& row : csv_rows(dir.file("now.csv")))
    if (row[0] == "layer3.2") sum_now += std::stod(row[2]);
  const auto pooled = after.json();
  for (const auto& block : pooled["selectivity"][0]["blocks"])
    if (block["block"] == "layer3.2") sum_pooled = block["mean"].get<double>() * block["units"].get<double>();
  EXPECT_NEAR(sum_pooled, sum_now, 1e-6);
}

#ifdef GEX_WITH_OPENCV
// A study on a folder without val/: each run holds out its own files (drawn with its seed), trains
// on the rest as `gex train --seed` does (the study trained every seed on one seed's split), and its
// analyses are measured on those — the study measured every run on the first run's files, a
// later seed's partly on its own training images. The reference: `gex selectivity` and `gex prune`
// on each run's checkpoint (measured on the run's held-out files, checked against its own
// evaluation in Pretrained.ACheckpointIsMeasuredOnItsRunsHeldOutFilesAndByClassName). The same
// photos under other folder names (--data) give the same figures, labelled by class name.
TEST_F(StudyAnalyses, OnAFolderWithoutValEachRunIsMeasuredOnTheFilesItHeldOut) {
  test::make_photo_folder(dir.path() / "photos");
  const std::string flat = dir.file("flat"), renamed = dir.file("renamed");
  test::make_flat_photo_folders(dir.path() / "photos", flat, renamed);
  dir.write("renamed/classes.txt", "x c\ny a\nz b\n");  // sorted folders x, y, z: classes c, a, b
  const auto out = dir.file("study");
  const auto trained = run("study --data folder:" + flat + " --steps 6 --batch 8 --threads 1 --lr 0.05 --no-probes "
                           "--variants baseline --seeds 2 --out " + out);
  ASSERT_EQ(trained.code, 0) << trained.err;
  // Each seed's run trained on what its seed holds out: the run `gex train --seed 2` gives.
  const std::string alone = dir.file("alone");
  ASSERT_EQ(run("train --data folder:" + flat + " --steps 6 --batch 8 --threads 1 --lr 0.05 --no-probes --seed 2 "
                "--out " + alone).code, 0);
  test::expect_same_weights(out + "/baseline/seed-2", alone);
  EXPECT_EQ(nlohmann::json::parse(read_file(out + "/baseline/seed-2/run.json"))["data_files"],
            nlohmann::json::parse(read_file(alone + "/run.json"))["data_files"]);
  const auto measured = run("study --analyses " + out + " --layer layer3.2 --order csi-desc --threads 1");
  ASSERT_EQ(measured.code, 0) << measured.err;
  // Another place of the same photos, other folder names: computed anew (another --limit), the same.
  const auto elsewhere = run("study --analyses " + out + " --data folder:" + renamed +
                             " --limit 100 --layer layer3.2 --order csi-desc --threads 1");
  ASSERT_EQ(elsewhere.code, 0) << elsewhere.err;
  EXPECT_EQ(elsewhere.err.find("measured on the files there now, held out anew"), std::string::npos) << elsewhere.err;
  EXPECT_NE(elsewhere.err.find("images labelled by class name"), std::string::npos) << elsewhere.err;
  for (const char* seed : {"seed-1", "seed-2"}) {
    const std::string run_dir = out + "/baseline/" + seed, best = run_dir + "/checkpoints/best.safetensors";
    const std::string csi = dir.file(std::string(seed) + ".csv"), curve = dir.file(std::string(seed) + "-prune.csv");
    ASSERT_EQ(run("selectivity --data folder:" + flat + " --threads 1 --checkpoint " + best + " --out " + csi).code, 0);
    ASSERT_EQ(run("prune --data folder:" + flat + " --threads 1 --layer layer3.2 --order csi-desc --checkpoint " + best +
                  " --out " + curve).code, 0);
    for (const char* limit : {"2000", "100"}) {
      const auto cached = csv_rows(kept_analyses(run_dir) + "/selectivity-test-" + limit + ".csv"), fresh = csv_rows(csi);
      ASSERT_EQ(cached.size(), fresh.size()) << seed;
      for (size_t i = 0; i < fresh.size(); ++i) {
        EXPECT_EQ(cached[i][0] + "/" + cached[i][1], fresh[i][0] + "/" + fresh[i][1]);
        EXPECT_NEAR(std::stod(cached[i][2]), std::stod(fresh[i][2]), 1e-5) << seed << " " << limit << " " << fresh[i][0];
        EXPECT_EQ(cached[i][3], fresh[i][3]) << "the class a unit prefers, " << seed << " " << limit;
      }
      const auto cached_curve = csv_rows(kept_analyses(run_dir) + "/pruning-layer3.2-csi-desc-test-" + limit + ".csv");
      const auto fresh_curve = csv_rows(curve);
      ASSERT_EQ(cached_curve.size(), fresh_curve.size());
      for (size_t i = 0; i < fresh_curve.size(); ++i)
        EXPECT_EQ(cached_curve[i][4], fresh_curve[i][4]) << seed << " " << limit << " row " << i;
    }
  }
  // A photo added to the folder since: measured (another --limit), and said to be other files.
  fs::copy_file(fs::path(flat) / "a" / "train-p0.jpg", fs::path(flat) / "a" / "added.jpg");
  const auto grown = run("study --analyses " + out + " --limit 50 --layer layer3.2 --order csi-desc --threads 1");
  ASSERT_EQ(grown.code, 0) << grown.err;
  for (const char* seed : {"seed-1", "seed-2"})
    EXPECT_NE(grown.err.find(out + "/baseline/" + seed + " trained on other files than folder:" + flat +
                             " holds now (27 training files then, 28 now): measured on the files there now, held out "
                             "anew: some of them may be ones it trained on\n"),
              std::string::npos)
        << grown.err;
}
#endif

// The analyses shipped with the shipped study (scripts/ship-analyses.sh, read by the analysis
// views instead of computing them) are what gex computes from the shipped checkpoints now: a
// stale file (another engine, another checkpoint) fails here. Two runs, each kind of file once.
TEST_F(StudyAnalyses, TheShippedAnalysesAreGexsOwn) {
  const fs::path study = fs::path(GEX_RESOURCES) / "default-runs/resnet20-fashion-mnist-study";
  struct Case {
    std::string run, args, file;
    double tolerance;  // of the numbers; an error is a count of images: at most one more or fewer
  };
  const std::vector<Case> cases = {
      {"baseline/seed-2", "selectivity --limit 1000", "selectivity-test-1000.csv", 1e-5},
      {"theta-plus/seed-3", "prune --limit 1000 --layer layer3.2 --order csi-desc", "pruning-layer3.2-csi-desc-test-1000.csv",
       1.0 / 1000},
      {"theta-minus/seed-1", "prune --limit 2000 --layer layer3.2 --order random --repeats 3",
       "pruning-layer3.2-random-test-2000.csv", 1.0 / 2000}};
  for (const Case& c : cases) {
    const fs::path run = study / c.run;
    const std::string out = dir.file(c.file);
    const auto r = this->run(c.args + " --checkpoint '" + (run / "checkpoints/best.safetensors").string() + "' --out " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    const auto shipped = csv_rows(kept_analyses(run.string()) + "/" + c.file), now = csv_rows(out);
    ASSERT_EQ(shipped.size(), now.size()) << c.file;
    ASSERT_GT(now.size(), 10u);
    for (size_t i = 0; i < now.size(); ++i) {
      ASSERT_EQ(shipped[i].size(), now[i].size()) << c.file << " row " << i;
      for (size_t f = 0; f < now[i].size(); ++f) {
        char* end = nullptr;
        const double a = std::strtod(now[i][f].c_str(), &end);
        if (end == now[i][f].c_str() || *end != '\0') EXPECT_EQ(shipped[i][f], now[i][f]) << c.file << " row " << i;
        else EXPECT_NEAR(std::stod(shipped[i][f]), a, c.tolerance + 1e-12) << c.file << " row " << i << " field " << f;
      }
    }
  }
}


}  // namespace
}  // namespace gex
