// gex study as a user runs it: variants × seeds of normal runs, the table, a study killed and run
// again continuing where it stood, a folder of another experiment refused, a study whose data moved,
// the summary's figures worked out here from the table. Its analyses: gex_study_analyses_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "gex_process.h"
#include "photo_folder.h"
#include "study_settings.h"
#include "io/atomic_file.h"
#include "temp_dir.h"
#include "train/checkpoint.h"
#include "train/run_dir.h"

namespace gex {
namespace {

namespace fs = std::filesystem;
using test::csv_rows;
using test::kSettings;
using test::kStudy;

class Studies : public test::GexTest {};

TEST_F(Studies, EachVariantAndSeedIsARunAndTheTableIsTheirs) {
  const auto out = dir.file("study");
  const auto r = run(kStudy + "--out " + out + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto rows = csv_rows(out + "/study.csv");
  ASSERT_EQ(rows.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> order = {
      {"baseline", "1"}, {"theta-minus", "1"}, {"baseline", "2"}, {"theta-minus", "2"}};
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& row = rows[i];
    ASSERT_EQ(row.size(), 8u);
    EXPECT_EQ(row[0], order[i].first);
    EXPECT_EQ(row[1], order[i].second);
    EXPECT_EQ(row[7], order[i].first + "/seed-" + order[i].second)
        << "runs are named relative to the study";
    const auto run_dir = out + "/" + row[7];
    const auto run = RunDirectory::open(run_dir);
    EXPECT_EQ(run.status(), RunStatus::kFinished);
    EXPECT_EQ(run.config().seed, std::stoull(row[1]));
    EXPECT_EQ(run.config().model.attention,
              row[0] == "baseline" ? AttentionKind::kNone : AttentionKind::kGE);
    EXPECT_EQ(read_checkpoint_info(run_dir + "/checkpoints/last.safetensors").step, 30);
    // The errors are the run's own: the last and the lowest val row of its metrics.csv, read here.
    double last = -1, lowest = 2;
    for (const auto& m : read_metrics(run_dir + "/metrics.csv"))
      if (m.split == "val") last = m.top1_error, lowest = std::min(lowest, m.top1_error);
    EXPECT_NEAR(std::stod(row[5]), last, 1e-6);
    EXPECT_NEAR(std::stod(row[4]), lowest, 1e-6);
    EXPECT_GT(std::stod(row[6]), 10) << "images per second";
  }
  EXPECT_EQ(rows[0][2], rows[1][2]) << "GE-θ⁻ adds no parameters";
  EXPECT_EQ(rows[0][3], rows[1][3])
      << "nor multiply-adds (the paper counts none for pooling and gating)";
  EXPECT_NE(rows[0][5] + rows[0][4], rows[2][5] + rows[2][4]) << "seeds 1 and 2 should differ";
  const auto plan = nlohmann::json::parse(read_file(out + "/study.json"));
  EXPECT_EQ(plan["format"], "gex-study/1");
  EXPECT_EQ(plan["seeds"], nlohmann::json::array({1, 2}));
  EXPECT_EQ(plan["variants"][1]["name"], "theta-minus");

  // The summary, from the table: mean, sd, the t-interval with t(1) = 12.706, the paired
  // difference.
  const auto s = run("study --summary " + out + " --json");
  ASSERT_EQ(s.code, 0) << s.err;
  const auto j = s.json();
  const double b1 = std::stod(rows[0][5]), g1 = std::stod(rows[1][5]), b2 = std::stod(rows[2][5]),
               g2 = std::stod(rows[3][5]);
  const auto& base = j["variants"][0]["final_top1_error"];
  EXPECT_EQ(j["variants"][0]["variant"], "baseline");
  EXPECT_NEAR(base["mean"].get<double>(), (b1 + b2) / 2, 1e-9);
  EXPECT_NEAR(base["sd"].get<double>(), std::abs(b1 - b2) / std::sqrt(2.0), 1e-9);
  EXPECT_NEAR(base["ci95"][1].get<double>(), (b1 + b2) / 2 + 12.7062 * std::abs(b1 - b2) / 2, 1e-4);
  const auto& vs = j["variants"][1]["vs_baseline"];
  EXPECT_EQ(vs["paired_seeds"], nlohmann::json::array({1, 2}));
  EXPECT_NEAR(vs["difference"]["mean"].get<double>(), ((g1 - b1) + (g2 - b2)) / 2, 1e-9);
  const double wins = (g1 < b1) + (g1 < b2) + (g2 < b1) + (g2 < b2) +
                      0.5 * ((g1 == b1) + (g1 == b2) + (g2 == b1) + (g2 == b2));
  EXPECT_NEAR(vs["probability_of_improvement"].get<double>(), wins / 4, 1e-12);
  EXPECT_NE(vs["words"].get<std::string>().find("theta-minus − baseline: "), std::string::npos)
      << vs["words"];
}

TEST_F(Studies, AKilledStudyContinuesWhereItStoodWhenRunAgain) {
  const auto straight = dir.file("straight"), killed = dir.file("killed");
  ASSERT_EQ(run(kStudy + "--out " + straight).code, 0);
  // SIGKILL once the second run has a checkpoint: the first is finished, the second interrupted.
  const auto second = killed + "/theta-minus/seed-1";
  const std::string cmd = std::string(GEX_BINARY) + " " + kStudy + "--out " + killed +
                          " >/dev/null 2>&1 & pid=$!; "
                          "while [ ! -f " +
                          second +
                          "/checkpoints/last.safetensors ]; do sleep 0.02; done; "
                          "kill -KILL $pid; wait $pid 2>/dev/null";
  ASSERT_NE(std::system(cmd.c_str()), 0);
  const int64_t at = read_checkpoint_info(second + "/checkpoints/last.safetensors").step;
  ASSERT_LT(at, 30) << "the run finished before the kill";
  const auto table = csv_rows(killed + "/study.csv");  // rewritten after each run: the finished one
  ASSERT_EQ(table.size(), 1u);
  EXPECT_EQ(table[0][0] + "/" + table[0][1], "baseline/1");
  const auto first_run_json = read_file(killed + "/baseline/seed-1/run.json");
  const auto first_metrics = read_file(killed + "/baseline/seed-1/metrics.csv");
  std::string kept;  // the interrupted run's rows up to its checkpoint, wall times included
  for (const auto& m : read_metrics(second + "/metrics.csv"))
    if (m.step <= at) kept += format_metrics_row(m);

  const auto again = run(kStudy + "--out " + killed + " --json");
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(read_file(killed + "/baseline/seed-1/run.json"), first_run_json)
      << "the finished run was not touched";
  EXPECT_EQ(read_file(killed + "/baseline/seed-1/metrics.csv"), first_metrics);
  std::string resumed;
  for (const auto& m : read_metrics(second + "/metrics.csv"))
    if (m.step <= at) resumed += format_metrics_row(m);
  EXPECT_EQ(resumed, kept)
      << "the interrupted run resumed (a fresh one would have other wall times)";
  // Resumed exactly: the same errors as the study that was never interrupted.
  const auto a = csv_rows(straight + "/study.csv"), b = csv_rows(killed + "/study.csv");
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i)
    for (int field : {0, 1, 2, 3, 4, 5, 7})
      EXPECT_EQ(a[i][field], b[i][field]) << "row " << i << " field " << field;
}

TEST_F(Studies, WithNprocEveryRunIsDataParallel) {
  const auto out = dir.file("study");
  const auto r = run(std::string(kSettings) + "--variants theta-minus --seeds 1 --nproc 2 --out " +
                     out + " --json");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto run_json = nlohmann::json::parse(read_file(out + "/theta-minus/seed-1/run.json"));
  EXPECT_EQ(run_json["world_size"], 2);
  EXPECT_EQ(csv_rows(out + "/study.csv").size(), 1u) << "rank 0 alone writes the table";
}

TEST_F(Studies, AFolderOfAnotherExperimentIsRefusedAndKept) {
  const auto out = dir.file("study");
  ASSERT_EQ(run("train --data synthetic --input-size 16 --steps 10 --batch 32 --threads 1 --seed 9 "
                "--no-probes "
                "--out " +
                out + "/theta-minus/seed-1")
                .code,
            0);
  const auto before = read_file(out + "/theta-minus/seed-1/run.json");
  const auto r = run(kStudy + "--out " + out);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(out + "/theta-minus/seed-1 holds a run of another configuration"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(read_file(out + "/theta-minus/seed-1/run.json"), before);

  // Another schedule in a study's folder is refused by its study.json.
  ASSERT_EQ(
      run(std::string(kSettings) + "--out " + dir.file("s2") + " --seeds 1 --variants baseline")
          .code,
      0);
  const auto other = run(kStudy + "--out " + dir.file("s2") + " --lr 0.05");
  EXPECT_EQ(other.code, 2);
  EXPECT_NE(other.err.find("study.json records a study with another config.lr"), std::string::npos)
      << other.err;
}

TEST_F(Studies, BadInputsAreRefusedWithTheirExitCode) {
  const auto nothing = run("study --summary " + dir.file("nothing"));
  EXPECT_EQ(nothing.code, 3);
  EXPECT_NE(nothing.err.find(dir.file("nothing") + ": no such directory"), std::string::npos) << nothing.err;
  fs::create_directories(dir.file("run"));
  const auto run_folder = run("study --summary " + dir.file("run"));
  EXPECT_EQ(run_folder.code, 3);
  EXPECT_NE(run_folder.err.find(dir.file("run") + ": not a study's folder"), std::string::npos) << run_folder.err;
  // The usual slips, with the shipped study: its study.json, a variant's folder, one of its runs
  // (each names the study), and through --analyses too; a run of no study says it is a run.
  const std::string study = std::string(GEX_RESOURCES) + "/default-runs/resnet20-fashion-mnist-study";
  const std::pair<std::string, std::string> slips[] = {
      {"--summary " + study + "/study.json", study + "/study.json: is a study's study.json, not its folder: give the study, " + study},
      {"--summary " + study + "/theta-minus", study + "/theta-minus: is a folder of the study " + study + ", not the study's own: give " + study},
      {"--analyses " + study + "/baseline/seed-2", study + "/baseline/seed-2: is a folder of the study " + study + ", not the study's own: give " + study}};
  for (const auto& [args, says] : slips) {
    const auto r = run("study " + args);
    EXPECT_EQ(r.code, 3) << args;
    EXPECT_NE(r.err.find(says), std::string::npos) << r.err;
  }
  write_file_atomically(dir.file("run/run.json"), {"{}"});
  const auto a_run = run("study --summary " + dir.file("run"));
  EXPECT_NE(a_run.err.find(dir.file("run") + ": is a run, not a study's folder"), std::string::npos) << a_run.err;
  fs::create_directories(dir.file("bad"));
  write_file_atomically(
      dir.file("bad/study.csv"),
      {"variant,seed,params,macs,best_top1_error,final_top1_error,images_per_second,run\n"
       "baseline,1,10,10,0.1,0.1,5,baseline/seed-1\nbaseline,x,1,1,0.1,0.1,1,a\n"});
  const auto bad = run("study --summary " + dir.file("bad"));
  EXPECT_EQ(bad.code, 3);
  EXPECT_NE(bad.err.find(dir.file("bad/study.csv") + ":3"), std::string::npos) << bad.err;
  const auto variant = run(std::string(kSettings) +
                           "--seeds 1 --variants baseline,theta-max --out " + dir.file("v"));
  EXPECT_EQ(variant.code, 2);
  EXPECT_NE(variant.err.find("theta-max"), std::string::npos) << variant.err;
  EXPECT_EQ(
      run(std::string(kSettings) + "--seeds 1 --variants theta:3 --out " + dir.file("v")).code, 2);
  EXPECT_EQ(run("study --variants baseline --seeds 2").code, 2) << "no --out";
  // Said before the data is read: here a folder that reading would refuse (exit 3, no images in it).
  for (const std::string cls : {"a", "b"}) {
    fs::create_directories(dir.file("unread/" + cls));
    write_file_atomically(dir.file("unread/" + cls + "/notes.png"), {"not an image"});
  }
  const auto early = run("study --data folder:" + dir.file("unread") + " --steps 2 --seeds 1 --variants theta-max --out " +
                         dir.file("v"));
  EXPECT_EQ(early.code, 2) << early.err;
  EXPECT_EQ(early.err.find("notes.png"), std::string::npos) << early.err;
}

#ifdef GEX_WITH_OPENCV
// A study continued where its data was moved: the same files at another place go on (a finished run
// records the new place, an extended one resumes there); other files there are refused, the runs kept.
TEST_F(Studies, AStudyWhoseDataMovedGoesOnWhereItIsNow) {
  test::make_photo_folder(dir.path() / "photos");
  const auto out = dir.file("study");
  const std::string study = "study --batch 8 --threads 1 --no-probes --variants baseline --seeds 1 --out " + out;
  ASSERT_EQ(run(study + " --steps 4 --data folder:" + dir.file("photos")).code, 0);
  const std::string run_dir = out + "/baseline/seed-1", last = run_dir + "/checkpoints/last.safetensors";
  const auto weights = read_file(last);
  fs::rename(dir.path() / "photos", dir.path() / "moved");
  const std::string moved = "folder:" + dir.file("moved");
  const auto data_of = [](const std::string& json) { return nlohmann::json::parse(read_file(json))["config"]["data"]; };

  const auto same = run(study + " --steps 4 --data " + moved);
  ASSERT_EQ(same.code, 0) << same.err;
  EXPECT_NE(same.err.find("was planned on folder:" + dir.file("photos") + "; it goes on with " + moved), std::string::npos)
      << same.err;
  EXPECT_EQ(data_of(out + "/study.json"), moved);
  EXPECT_EQ(data_of(run_dir + "/run.json"), moved) << "a finished run records where its data is now";
  EXPECT_EQ(read_file(last), weights) << "and is not trained again";

  const auto longer = run(study + " --data " + moved + " --steps 8");
  ASSERT_EQ(longer.code, 0) << longer.err;
  EXPECT_EQ(read_checkpoint_info(last).step, 8) << "an extended run resumes from the new place";

  // Another file in the folder: not the data the run trained on.
  fs::copy_file(dir.path() / "moved/train/a/p0.jpg", dir.path() / "moved/train/a/extra.jpg");
  const auto before = read_file(run_dir + "/run.json");
  const auto grown = run(study + " --data " + moved + " --steps 12");
  EXPECT_EQ(grown.code, 2) << grown.err;
  EXPECT_NE(grown.err.find(run_dir + " trained on other files than " + moved + " holds now (24 training files then, 25 now)"),
            std::string::npos)
      << grown.err;
  EXPECT_EQ(read_file(run_dir + "/run.json"), before);
  EXPECT_EQ(read_checkpoint_info(last).step, 8);
}
#endif

// `fashion-mnist` is Debian's copy of it: the same study given that folder by name goes on as it
// stood (it was refused as another experiment): its finished run is neither trained again nor rewritten.
TEST_F(Studies, FashionMnistByItsDefaultPlaceIsTheSameData) {
  const auto out = dir.file("study");
  const std::string study = "study --batch 8 --threads 1 --no-probes --variants baseline --seeds 1 --steps 1 "
                            "--eval-limit 20 --out " + out;
  ASSERT_EQ(run(study).code, 0);
  const auto record = read_file(out + "/baseline/seed-1/run.json");
  const auto weights = read_file(out + "/baseline/seed-1/checkpoints/last.safetensors");
  const auto named = run(study + " --data fashion-mnist:/usr/share/datasets/fashion-mnist");
  EXPECT_EQ(named.code, 0) << named.err;
  EXPECT_EQ(named.err.find("another place"), std::string::npos) << named.err;
  EXPECT_EQ(read_file(out + "/baseline/seed-1/run.json"), record) << "the finished run was left as it was";
  EXPECT_EQ(read_file(out + "/baseline/seed-1/checkpoints/last.safetensors"), weights);
}


}  // namespace
}  // namespace gex
